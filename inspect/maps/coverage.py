"""Coverage map (检查覆盖): per district, the share of enterprises with a visit in the period's
schedules in force, and the visits themselves as clustered dots, one layer per department.

A joint visit (综合查一次) carries tasks of several departments: it appears in the layer of
each of them, so a department's layer shows every entry its items were checked in. The share
counts enterprises, not visits: an enterprise with two visits counts once. Missed and
cancelled visits cover nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import folium
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from checkonce.maps.base import (
    PALETTE,
    Legend,
    MapSettings,
    Points,
    SharedTooltips,
    base_map,
    district_features,
)
from checkonce.maps.base import tooltip as tooltip_html
from checkonce.maps.scope import (
    ENTERED_VISIT_STATES,
    LIVE_VISIT_STATES,
    DepartmentLabel,
    Viewer,
    clock,
    departments,
    resolve_period,
    schedules_in_force,
)
from checkonce.plans.models import InspectionTask
from checkonce.plans.periods import Period
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.registry.models import RISK_CLASSES, Enterprise
from checkonce.visits.models import Visit, VisitTask

# Share bins of the choropleth (lower bound, colour): ColorBrewer YlGn, white for none.
SHARE_BINS = (
    (0.0, "#ffffff"),
    (1e-9, "#f7fcb9"),
    (0.05, "#d9f0a3"),
    (0.10, "#addd8e"),
    (0.20, "#78c679"),
    (0.35, "#31a354"),
    (0.50, "#006837"),
)
VISIT_STATE_NAMES = {"scheduled": "已排期", "checked_in": "已入企", "completed": "已完成"}


@dataclass(frozen=True)
class CoverageFilter:
    """period: "2027" or "2027Q1" (default: the latest with a published schedule);
    risk_class: A–D; department_id: only visits with that department's tasks."""

    period: str | None = None
    risk_class: str | None = None
    department_id: int | None = None

    def __post_init__(self) -> None:
        if self.risk_class is not None and self.risk_class not in RISK_CLASSES:
            raise ValueError(f"风险等级应为 {'、'.join(RISK_CLASSES)}，实际 {self.risk_class}")


@dataclass(frozen=True)
class DistrictCoverage:
    """One district: active enterprises (after the risk filter), those with a live visit, and
    those already entered (checked in or completed)."""

    adcode: str
    name: str
    enterprises: int
    visited: int
    entered: int

    @property
    def share(self) -> float:
        """Share of the district's enterprises with a visit (0 when it has none)."""
        return self.visited / self.enterprises if self.enterprises else 0.0


@dataclass(frozen=True)
class VisitPoint:
    """One visit as the map draws it, with every department that has a task in it."""

    visit_id: int
    code: str
    enterprise: str
    district: str
    lat: float
    lon: float
    day: dt.date
    start: dt.time
    end: dt.time
    state: str
    lead_department_id: int
    department_ids: tuple[int, ...]


@dataclass
class CoverageData:
    """Everything the coverage map draws; `per_department` is the dot count of each layer."""

    period: Period
    filters: CoverageFilter
    schedule_ids: list[int]
    districts: list[DistrictCoverage]
    visits: list[VisitPoint]
    departments: dict[int, DepartmentLabel]
    per_department: dict[int, int] = field(default_factory=dict)

    @property
    def enterprises(self) -> int:
        """Active enterprises in scope, all districts."""
        return sum(d.enterprises for d in self.districts)

    @property
    def visited(self) -> int:
        """Enterprises with a live visit in the period, all districts."""
        return sum(d.visited for d in self.districts)


def coverage_data(
    *,
    db_session: Session,
    jurisdiction: Jurisdiction,
    filters: CoverageFilter,
    viewer: Viewer | None = None,
) -> CoverageData:
    """The numbers the coverage map draws, for `viewer` (a bureau sees its department only)."""
    viewer = viewer or Viewer()
    filters = CoverageFilter(
        filters.period, filters.risk_class, viewer.department_scope(filters.department_id)
    )
    period = resolve_period(db_session, filters.period)
    schedule_ids = schedules_in_force(db_session, period)

    firms = select(Enterprise.district_adcode, func.count()).where(Enterprise.active.is_(True))
    if filters.risk_class:
        firms = firms.where(Enterprise.risk_class == filters.risk_class)
    totals = dict(db_session.execute(firms.group_by(Enterprise.district_adcode)).all())

    rows = db_session.execute(
        select(
            Visit.id,
            Visit.code,
            Visit.enterprise_id,
            Visit.day,
            Visit.start,
            Visit.end,
            Visit.state,
            Visit.lead_department_id,
            Enterprise.name,
            Enterprise.district_adcode,
            Enterprise.lat,
            Enterprise.lon,
            Enterprise.risk_class,
            Enterprise.active,
        )
        .join(Enterprise, Enterprise.id == Visit.enterprise_id)
        .where(
            Visit.schedule_id.in_(schedule_ids),
            Visit.day.between(period.start, period.end),
            Visit.state.in_(LIVE_VISIT_STATES),
        )
        .order_by(Visit.day, Visit.start, Visit.id)
    ).all()
    task_departments: dict[int, set[int]] = defaultdict(set)
    visit_ids = [r.id for r in rows]
    for chunk in range(0, len(visit_ids), 5000):
        for visit_id, dept in db_session.execute(
            select(VisitTask.visit_id, InspectionTask.department_id)
            .join(InspectionTask, InspectionTask.id == VisitTask.inspection_task_id)
            .where(VisitTask.visit_id.in_(visit_ids[chunk : chunk + 5000]))
            .distinct()
        ):
            task_departments[visit_id].add(dept)

    visits: list[VisitPoint] = []
    visited: dict[str, set[int]] = defaultdict(set)
    entered: dict[str, set[int]] = defaultdict(set)
    for r in rows:
        if filters.risk_class and r.risk_class != filters.risk_class:
            continue
        depts = tuple(sorted(task_departments.get(r.id, {r.lead_department_id})))
        if filters.department_id is not None and filters.department_id not in depts:
            continue
        visits.append(
            VisitPoint(
                r.id,
                r.code,
                r.name,
                r.district_adcode,
                r.lat,
                r.lon,
                r.day,
                r.start,
                r.end,
                r.state,
                r.lead_department_id,
                depts,
            )
        )
        # An inactive enterprise is not in the denominator, so it is not in the share either.
        if r.active:
            visited[r.district_adcode].add(r.enterprise_id)
            if r.state in ENTERED_VISIT_STATES:
                entered[r.district_adcode].add(r.enterprise_id)

    districts = [
        DistrictCoverage(
            adcode,
            shape.name,
            int(totals.get(adcode, 0)),
            len(visited[adcode]),
            len(entered[adcode]),
        )
        for adcode, shape in sorted(jurisdiction.districts.items())
    ]
    labels = departments(db_session)
    per_department: dict[int, int] = defaultdict(int)
    for v in visits:
        for dept in v.department_ids:
            # Filtered to one department, the map shows that department's layer only.
            if filters.department_id in (None, dept):
                per_department[dept] += 1
    return CoverageData(
        period,
        filters,
        schedule_ids,
        districts,
        visits,
        labels,
        {d: per_department[d] for d in labels if per_department.get(d)},
    )


def share_colour(share: float) -> str:
    """The choropleth colour of a share (the highest bin whose lower bound it reaches)."""
    colour = SHARE_BINS[0][1]
    for lower, candidate in SHARE_BINS:
        if share >= lower:
            colour = candidate
    return colour


def _share_label(lower: float, upper: float | None) -> str:
    if lower == 0.0:
        return "0（无检查）"
    low = "0" if lower < 1e-6 else f"{lower:.0%}"
    return f"{low} – {upper:.0%}" if upper is not None else f"≥ {lower:.0%}"


def coverage_map(
    data: CoverageData, jurisdiction: Jurisdiction, settings: MapSettings | None = None
) -> folium.Map:
    """Choropleth of the share visited per district, plus one clustered layer per department."""
    risk = f"，{data.filters.risk_class} 类风险" if data.filters.risk_class else ""
    dept = (
        f"，{data.departments[data.filters.department_id].short_name}"
        if data.filters.department_id in data.departments
        else ""
    )
    title = (
        f"{data.period.code} 检查覆盖{risk}{dept}："
        f"{data.visited:,}/{data.enterprises:,} 家企业（{_pct(data.visited, data.enterprises)}）"
    )
    fmap = base_map(jurisdiction, title, settings)
    by_adcode = {d.adcode: d for d in data.districts}
    features = []
    for feature in district_features(jurisdiction):
        d = by_adcode[feature["properties"]["adcode"]]
        features.append(
            {
                **feature,
                "properties": {
                    **feature["properties"],
                    "share": round(d.share, 4),
                    "share_text": f"{d.share:.1%}",
                    "visited": d.visited,
                    "enterprises": d.enterprises,
                    "entered": d.entered,
                    "colour": share_colour(d.share),
                },
            }
        )
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="覆盖率（按区县）",
        style_function=lambda f: {
            "color": "#444",
            "weight": 1,
            "fillColor": f["properties"]["colour"],
            "fillOpacity": 0.75,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "share_text", "visited", "enterprises", "entered"],
            aliases=["区县", "覆盖率", "有检查的企业", "企业总数", "已入企"],
        ),
    ).add_to(fmap)

    tips = SharedTooltips(
        [
            tooltip_html(
                v.enterprise,
                f"{v.day} {clock(v.start)}–{clock(v.end)}（{VISIT_STATE_NAMES[v.state]}）",
                f"牵头：{data.departments[v.lead_department_id].short_name}；"
                f"参加：{'、'.join(data.departments[d].short_name for d in v.department_ids)}",
                f"检查编号 {v.code}",
            )
            for v in data.visits
        ]
    )
    tips.add_to(fmap)
    colours = {}
    for index, (dept_id, count) in enumerate(data.per_department.items()):
        label = data.departments[dept_id]
        colours[dept_id] = PALETTE[index % len(PALETTE)]
        rows = [
            [v.lat, v.lon, colours[dept_id], i]
            for i, v in enumerate(data.visits)
            if dept_id in v.department_ids
        ]
        Points(rows, name=f"{label.short_name}（{count:,} 次）", shared=tips).add_to(fmap)

    bins = [
        (colour, _share_label(lower, SHARE_BINS[i + 1][0] if i + 1 < len(SHARE_BINS) else None))
        for i, (lower, colour) in enumerate(SHARE_BINS)
    ]
    Legend("企业覆盖率", bins).add_to(fmap)
    if colours:
        Legend(
            "检查部门",
            [(colours[d], data.departments[d].short_name) for d in colours],
            position="bottom-left",
        ).add_to(fmap)
    return fmap


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "—"
