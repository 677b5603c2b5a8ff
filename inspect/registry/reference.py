"""Load a jurisdiction's reference data (districts, bureaus, items, scenes, fees) into the
database in one transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from checkonce.errors import CheckOnceError, Conflict
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.registry.models import (
    ChargingUnit,
    CheckItem,
    ChecklistEntry,
    Department,
    District,
    FeeCatalogEntry,
    Industry,
    Scene,
    SceneIndustry,
    SceneItem,
)


def load_reference(session: Session, data_dir: Path) -> dict[str, int]:
    """Insert the reference data of `data_dir`; refuses if a registry is already loaded.

    Returns the number of rows per table. Nothing is written when the files are inconsistent.
    """
    if session.scalar(select(func.count()).select_from(District)):
        raise Conflict("参考数据（区县、部门、检查事项）已加载，不能重复导入")
    juris = Jurisdiction(data_dir)
    problems = juris.problems()
    if problems:
        raise CheckOnceError("辖区参考数据不一致：\n  " + "\n  ".join(problems))

    counts: dict[str, int] = {}
    for district in juris.districts.values():
        session.add(District(adcode=district.adcode, name=district.name, urban=district.urban))
    counts["district"] = len(juris.districts)

    departments: dict[str, Department] = {}
    items: dict[str, CheckItem] = {}
    for raw in juris.departments:
        dept = Department(code=raw["code"], name=raw["name"], short_name=raw["short_name"])
        departments[dept.code] = dept
        session.add(dept)
        session.add(ChargingUnit(code=raw["code"], name=raw["name"]))
        for raw_item in raw["items"]:
            item = CheckItem(
                code=raw_item["code"],
                department=dept,
                name=raw_item["name"],
                legal_basis=raw_item["legal_basis"],
                category=raw_item["category"],
                default_minutes=int(raw_item["minutes"]),
                default_team=int(raw_item["team"]),
                checklist=[
                    ChecklistEntry(position=i, key=e["key"], text=e["text"])
                    for i, e in enumerate(raw_item["checklist"])
                ],
            )
            items[item.code] = item
            session.add(item)
    counts["department"] = len(departments)
    counts["check_item"] = len(items)

    for raw in juris.industries:
        session.add(Industry(code=raw["code"], name=raw["name"]))
    counts["industry"] = len(juris.industries)
    session.flush()

    for raw in juris.scenes:
        scene = Scene(code=raw["code"], name=raw["name"], lead_department=departments[raw["lead"]])
        scene.industries = [SceneIndustry(industry_code=code) for code in raw["industries"]]
        scene.items = [SceneItem(item_id=items[code].id) for code in raw["items"]]
        session.add(scene)
    counts["scene"] = len(juris.scenes)

    for raw in juris.charging_units:
        if raw["code"] not in departments:
            session.add(ChargingUnit(code=raw["code"], name=raw["name"]))
    session.flush()
    for raw in juris.fee_catalog:
        session.add(
            FeeCatalogEntry(
                code=raw["code"],
                kind=raw["kind"],
                charging_unit=raw["charging_unit"],
                item=raw["item"],
                aliases=list(raw.get("aliases", [])),
                standard_type=raw["standard_type"],
                amount=Decimal(str(raw["amount"])),
                unit=raw["unit"],
                legal_basis=raw["legal_basis"],
                valid_from=dt.date.fromisoformat(raw["valid_from"]),
                valid_to=dt.date.fromisoformat(raw["valid_to"]) if raw.get("valid_to") else None,
                status=raw.get("status", "active"),
            )
        )
    counts["fee_catalog_entry"] = len(juris.fee_catalog)
    session.flush()
    return counts
