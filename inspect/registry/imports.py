"""Registry uploads (CSV or Excel): enterprises and inspectors.

All-or-nothing: every row is checked first and every problem reported with its row number,
field and reason in Chinese; only a clean file is written, in one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.service import record
from checkonce.auth import access
from checkonce.errors import CheckOnceError, ImportRejected, RowError
from checkonce.registry.creditcode import credit_code_problem
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.registry.models import (
    INSPECTOR_ROLES,
    INSPECTOR_STATUSES,
    RISK_CLASSES,
    Department,
    District,
    Enterprise,
    Industry,
    Inspector,
)
from checkonce.tabular import Column, Row, parse_bool, parse_date, parse_time, read_table

# How far (degrees, ~100 m) a point may lie outside its district polygon: boundaries are a
# simplified capture and addresses on the boundary road must not be refused.
BOUNDARY_TOLERANCE_DEG = 0.001

ENTERPRISE_COLUMNS = [
    Column("credit_code", "统一社会信用代码", aliases=("信用代码",)),
    Column("name", "企业名称", aliases=("名称",)),
    Column("address", "地址", aliases=("经营地址",)),
    Column("district", "区县代码", aliases=("行政区划代码", "district_adcode")),
    Column("lat", "纬度", aliases=("latitude",)),
    Column("lon", "经度", aliases=("longitude", "lng")),
    Column("industry", "行业", aliases=("行业代码", "industry_code")),
    Column("risk_class", "风险等级", aliases=("信用风险分类", "risk")),
    Column("whitelisted", "白名单", required=False, aliases=("监管白名单",)),
    Column("opens_at", "营业开始", required=False, aliases=("开门时间",)),
    Column("closes_at", "营业结束", required=False, aliases=("关门时间",)),
]

INSPECTOR_COLUMNS = [
    Column("code", "工号", aliases=("人员编号",)),
    Column("name", "姓名"),
    Column("department", "部门", aliases=("部门代码",)),
    Column("role", "人员类别", required=False),
    Column("status", "状态", required=False),
    Column("certificate_no", "执法证号", required=False),
    Column("certificate_valid_from", "证件起始日期", required=False),
    Column("certificate_valid_to", "证件截止日期", required=False),
    Column("home_district", "常驻区县代码", aliases=("home_district_adcode",)),
    Column("lat", "纬度"),
    Column("lon", "经度"),
    Column("minutes_per_day", "每日工时（分钟）", required=False, aliases=("每日工时",)),
]

ROLE_LABELS = {
    "执法人员": "enforcement",
    "辅助人员": "auxiliary",
    "网格员": "grid",
    "协调人员": "coordination",
}
STATUS_LABELS = {"在岗": "active", "暂停": "suspended", "离岗": "left"}


class _RowChecker:
    """Collects the errors of one row while converting its fields."""

    def __init__(self, row: Row, errors: list[RowError], columns: list[Column]) -> None:
        self.row = row
        self.errors = errors
        self.labels = {c.name: c.label for c in columns}
        self.ok = True

    def fail(self, field: str, reason: str) -> None:
        self.errors.append(RowError(self.row.number, self.labels.get(field, field), reason))
        self.ok = False

    def required(self, field: str) -> str | None:
        text = self.row.text(field)
        if not text:
            self.fail(field, "不能为空")
            return None
        return text

    def convert(self, field: str, parse: Callable[[Any], Any], *, default: Any = None) -> Any:
        raw = self.row.values.get(field)
        if raw is None or str(raw).strip() == "":
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            self.fail(field, str(exc))
            return None


def _float(value: Any) -> float:
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError(f"应为数字，实际 {value!r}") from None


def _point_check(check: _RowChecker, juris: Jurisdiction, adcode: str, lat, lon) -> None:
    if lat is None or lon is None:
        return
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        check.fail("lat", f"经纬度超出范围：({lat}, {lon})")
        return
    district = juris.districts.get(adcode)
    if district is None:
        return
    point = Point(lon, lat)
    if not district.prepared.contains(point) and district.geometry.distance(point) > (
        BOUNDARY_TOLERANCE_DEG
    ):
        actual = juris.district_of(lat, lon)
        where = f"位于{juris.districts[actual].name}" if actual else "不在本市范围内"
        check.fail(
            "lat", f"坐标 ({lat}, {lon}) 不在{district.name}内（{where}），请核对坐标（WGS84）"
        )


def _registered_districts(db_session: Session) -> set[str]:
    districts = set(db_session.scalars(select(District.adcode)))
    if not districts:
        raise CheckOnceError(
            "数据库中还没有辖区参考数据，请先运行：checkonce registry load-reference"
        )
    return districts


def _record_import(
    db_session: Session, actor: Actor, action: AuditAction, path: Path, added: int
) -> None:
    """One audit record per import (not one per row): the file's name, SHA-256 and rows."""
    record(
        db_session,
        actor=actor,
        action=action,
        object_type="import",
        object_id=Path(path).name,
        after={"rows": added},
        detail={
            "file": Path(path).name,
            "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
        },
    )


def import_enterprises(*, db_session: Session, path: Path, data_dir: Path, actor: Actor) -> int:
    """Add the enterprises of a CSV/Excel file; returns how many were added."""
    access.require(actor, AuditAction.ENTERPRISE_IMPORT)
    districts = _registered_districts(db_session)
    rows = read_table(path, ENTERPRISE_COLUMNS)
    juris = Jurisdiction(data_dir)
    industries = {code: code for code in db_session.scalars(select(Industry.code))}
    industries.update(
        {name: code for code, name in db_session.execute(select(Industry.code, Industry.name))}
    )
    existing = set(db_session.scalars(select(Enterprise.credit_code)))
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    new = []
    for row in rows:
        check = _RowChecker(row, errors, ENTERPRISE_COLUMNS)
        code = check.required("credit_code")
        if code is not None:
            code = code.upper()
            problem = credit_code_problem(code)
            if problem:
                check.fail("credit_code", problem)
            elif code in existing:
                check.fail("credit_code", f"企业 {code} 已在登记库中，不能重复导入")
            elif code in seen:
                check.fail("credit_code", f"与第 {seen[code]} 行重复")
            else:
                seen[code] = row.number
        name = check.required("name")
        address = check.required("address")
        adcode = check.required("district")
        if adcode is not None and adcode not in districts:
            check.fail("district", f"区县代码 {adcode} 不属于本辖区")
        industry = check.required("industry")
        if industry is not None and industry not in industries:
            check.fail("industry", f"未知行业 {industry}")
        risk = check.required("risk_class")
        if risk is not None and risk.upper() not in RISK_CLASSES:
            check.fail("risk_class", f"风险等级应为 A、B、C、D 之一，实际 {risk}")
        lat = check.convert("lat", _float)
        lon = check.convert("lon", _float)
        if check.row.text("lat") == "":
            check.fail("lat", "不能为空")
        if check.row.text("lon") == "":
            check.fail("lon", "不能为空")
        if adcode in districts:
            _point_check(check, juris, adcode, lat, lon)
        whitelisted = check.convert("whitelisted", parse_bool, default=False)
        opens = check.convert("opens_at", parse_time, default=None)
        closes = check.convert("closes_at", parse_time, default=None)
        if opens is not None and closes is not None and opens >= closes:
            check.fail("closes_at", "营业结束时间应晚于开始时间")
        if check.ok:
            values = {
                "credit_code": code,
                "name": name,
                "address": address,
                "district_adcode": adcode,
                "lat": lat,
                "lon": lon,
                "industry_code": industries[industry],
                "risk_class": risk.upper(),
                "whitelisted": whitelisted,
            }
            if opens is not None:
                values["opens_at"] = opens
            if closes is not None:
                values["closes_at"] = closes
            new.append(Enterprise(**values))
    if errors:
        raise ImportRejected(errors, source=Path(path).name)
    db_session.add_all(new)
    db_session.flush()
    _record_import(db_session, actor, AuditAction.ENTERPRISE_IMPORT, path, len(new))
    return len(new)


def import_inspectors(*, db_session: Session, path: Path, data_dir: Path, actor: Actor) -> int:
    """Add the staff of a CSV/Excel file; returns how many were added."""
    access.require(actor, AuditAction.INSPECTOR_IMPORT)
    districts = _registered_districts(db_session)
    rows = read_table(path, INSPECTOR_COLUMNS)
    juris = Jurisdiction(data_dir)
    departments = dict(db_session.execute(select(Department.code, Department.id)).all())
    departments.update(dict(db_session.execute(select(Department.name, Department.id)).all()))
    existing_codes = set(db_session.scalars(select(Inspector.code)))
    existing_certs = set(
        db_session.scalars(
            select(Inspector.certificate_no).where(Inspector.certificate_no.is_not(None))
        )
    )
    errors: list[RowError] = []
    seen_codes: dict[str, int] = {}
    seen_certs: dict[str, int] = {}
    new = []
    for row in rows:
        check = _RowChecker(row, errors, INSPECTOR_COLUMNS)
        code = check.required("code")
        if code is not None:
            if code in existing_codes:
                check.fail("code", f"工号 {code} 已存在")
            elif code in seen_codes:
                check.fail("code", f"与第 {seen_codes[code]} 行重复")
            else:
                seen_codes[code] = row.number
        name = check.required("name")
        dept = check.required("department")
        if dept is not None and dept not in departments:
            check.fail("department", f"未知部门 {dept}")
        role_text = row.text("role") or "enforcement"
        role = ROLE_LABELS.get(role_text, role_text)
        if role not in INSPECTOR_ROLES:
            check.fail("role", f"人员类别应为 执法人员/辅助人员/网格员/协调人员，实际 {role_text}")
        status_text = row.text("status") or "active"
        status = STATUS_LABELS.get(status_text, status_text)
        if status not in INSPECTOR_STATUSES:
            check.fail("status", f"状态应为 在岗/暂停/离岗，实际 {status_text}")
        cert = row.text("certificate_no") or None
        valid_from = check.convert("certificate_valid_from", parse_date)
        valid_to = check.convert("certificate_valid_to", parse_date)
        if role == "enforcement":
            if cert is None:
                check.fail("certificate_no", "执法人员必须登记执法证号")
            if row.text("certificate_valid_from") == "":
                check.fail("certificate_valid_from", "执法人员必须登记执法证起始日期")
            if row.text("certificate_valid_to") == "":
                check.fail("certificate_valid_to", "执法人员必须登记执法证截止日期")
        if valid_from and valid_to and valid_from > valid_to:
            check.fail("certificate_valid_to", "证件截止日期早于起始日期")
        if cert is not None:
            if cert in existing_certs:
                check.fail("certificate_no", f"执法证号 {cert} 已登记给其他人员")
            elif cert in seen_certs:
                check.fail("certificate_no", f"执法证号与第 {seen_certs[cert]} 行重复")
            else:
                seen_certs[cert] = row.number
        home = check.required("home_district")
        if home is not None and home not in districts:
            check.fail("home_district", f"区县代码 {home} 不属于本辖区")
        lat = check.convert("lat", _float)
        lon = check.convert("lon", _float)
        if home in districts:
            _point_check(check, juris, home, lat, lon)
        minutes = check.convert("minutes_per_day", lambda v: int(_float(v)), default=480)
        if minutes is not None and not 0 < minutes <= 720:
            check.fail("minutes_per_day", f"每日工时应在 1–720 分钟之间，实际 {minutes}")
        if check.ok:
            new.append(
                Inspector(
                    code=code,
                    name=name,
                    department_id=departments[dept],
                    role=role,
                    status=status,
                    certificate_no=cert,
                    certificate_valid_from=valid_from,
                    certificate_valid_to=valid_to,
                    home_district_adcode=home,
                    home_lat=lat,
                    home_lon=lon,
                    minutes_per_day=minutes,
                )
            )
    if errors:
        raise ImportRejected(errors, source=Path(path).name)
    db_session.add_all(new)
    db_session.flush()
    _record_import(db_session, actor, AuditAction.INSPECTOR_IMPORT, path, len(new))
    return len(new)
