"""The jurisdiction's reference files in data/, read and cross-checked (no database here).

Files: xian_districts.geojson, departments.json (bureaus with their checkable items),
industries.json, scenes.json, charging_units.json, fee_catalog.json. See data/README.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import PreparedGeometry, prep

from checkonce.errors import CheckOnceError

# The five central districts inside the second ring road: dense, most enterprises.
URBAN_ADCODES = frozenset({"610102", "610103", "610104", "610112", "610113"})


@dataclass(frozen=True)
class DistrictShape:
    adcode: str
    name: str
    geometry: BaseGeometry

    @cached_property
    def prepared(self) -> PreparedGeometry:
        return prep(self.geometry)

    @property
    def urban(self) -> bool:
        return self.adcode in URBAN_ADCODES


# About 100 m: simplified district boundaries leave slivers between neighbours.
ADJACENCY_GAP = 0.001


def district_adjacency(shapes: dict[str, BaseGeometry]) -> dict[str, tuple[str, ...]]:
    """Districts whose boundaries touch (or come within ADJACENCY_GAP degrees)."""
    grown = {code: geometry.buffer(ADJACENCY_GAP) for code, geometry in shapes.items()}
    return {
        code: tuple(
            sorted(
                other for other in shapes if other != code and grown[code].intersects(shapes[other])
            )
        )
        for code in sorted(shapes)
    }


class Jurisdiction:
    """Reference data of one jurisdiction, loaded lazily from `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)

    def _json(self, name: str) -> Any:
        path = self.data_dir / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CheckOnceError(f"辖区数据文件缺失：{path}") from None
        except json.JSONDecodeError as exc:
            raise CheckOnceError(f"辖区数据文件 {path} 不是有效的 JSON：{exc}") from exc

    @cached_property
    def districts(self) -> dict[str, DistrictShape]:
        geo = self._json("xian_districts.geojson")
        out = {}
        for feature in geo["features"]:
            props = feature["properties"]
            out[props["adcode"]] = DistrictShape(
                props["adcode"], props["name"], shape(feature["geometry"])
            )
        return out

    @cached_property
    def adjacent_districts(self) -> dict[str, tuple[str, ...]]:
        """District → the districts sharing a border with it (computed with shapely; the
        boundaries are simplified, so a gap of up to ADJACENCY_GAP degrees still counts)."""
        return district_adjacency({k: d.geometry for k, d in self.districts.items()})

    @cached_property
    def departments(self) -> list[dict[str, Any]]:
        return self._json("departments.json")

    @cached_property
    def industries(self) -> list[dict[str, Any]]:
        return self._json("industries.json")

    @cached_property
    def scenes(self) -> list[dict[str, Any]]:
        return self._json("scenes.json")

    @cached_property
    def charging_units(self) -> list[dict[str, Any]]:
        path = self.data_dir / "charging_units.json"
        return self._json("charging_units.json") if path.exists() else []

    @cached_property
    def fee_catalog(self) -> list[dict[str, Any]]:
        return self._json("fee_catalog.json")

    @cached_property
    def items(self) -> dict[str, dict[str, Any]]:
        """Every checkable item by code, each with its department code added."""
        out = {}
        for dept in self.departments:
            for item in dept["items"]:
                out[item["code"]] = {**item, "department": dept["code"]}
        return out

    def district_of(self, lat: float, lon: float) -> str | None:
        """The adcode of the district containing the point, or None."""
        from shapely.geometry import Point

        point = Point(lon, lat)
        for adcode, district in self.districts.items():
            if district.prepared.contains(point):
                return adcode
        return None

    def problems(self) -> list[str]:
        """Cross-reference problems in the files (empty when consistent)."""
        problems = []
        dept_codes = [d["code"] for d in self.departments]
        if len(set(dept_codes)) != len(dept_codes):
            problems.append("departments.json 中部门代码重复")
        item_codes = [i["code"] for d in self.departments for i in d["items"]]
        if len(set(item_codes)) != len(item_codes):
            problems.append("departments.json 中检查事项代码重复")
        industry_codes = {i["code"] for i in self.industries}
        for scene in self.scenes:
            for code in scene["industries"]:
                if code not in industry_codes:
                    problems.append(f"场景 {scene['code']} 的行业 {code} 不存在")
            for code in scene["items"]:
                if code not in self.items:
                    problems.append(f"场景 {scene['code']} 的检查事项 {code} 不存在")
            scene_depts = {self.items[c]["department"] for c in scene["items"] if c in self.items}
            if scene["lead"] not in scene_depts:
                problems.append(f"场景 {scene['code']} 的牵头部门 {scene['lead']} 不在场景部门中")
        units = set(dept_codes) | {u["code"] for u in self.charging_units}
        for fee in self.fee_catalog:
            if fee["charging_unit"] not in units:
                problems.append(f"收费目录 {fee['code']} 的收费单位 {fee['charging_unit']} 未登记")
        return problems
