"""Route map (执法路线): one inspector's day, or the day of every member of one visit's team,
as numbered stops in order of their scheduled start, with travel lines home → stops → home.

The scheduler stores each visit's start and end, not the legs; the legs here are the same
road model the scheduler plans with (great-circle distance × detour), drawn as straight
lines between the places.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
from dataclasses import dataclass

import folium
from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.auth.service import Forbidden
from checkonce.errors import CheckOnceError, NotFound
from checkonce.maps.base import PALETTE, Legend, MapSettings, base_map
from checkonce.maps.base import tooltip as tooltip_html
from checkonce.maps.scope import LIVE_VISIT_STATES, Viewer, clock, schedules_in_force
from checkonce.plans.models import InspectionTask
from checkonce.plans.periods import Period
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.registry.models import Enterprise, Inspector
from checkonce.scheduler.routing import Travel
from checkonce.visits.models import ScheduleVersion, Visit, VisitInspector, VisitTask

TRAVEL = Travel()


@dataclass(frozen=True)
class RouteFilter:
    """Either one inspector's day (inspector code and day) or a team's: the members of the
    visit with `visit_code` on that visit's day."""

    day: dt.date | None = None
    inspector_code: str | None = None
    visit_code: str | None = None

    def __post_init__(self) -> None:
        if (self.inspector_code is None) == (self.visit_code is None):
            raise CheckOnceError("请指定执法人员工号（--inspector）或检查编号（--visit）之一")
        if self.inspector_code is not None and self.day is None:
            raise CheckOnceError("查看执法人员路线须指定日期（--day）")


@dataclass(frozen=True)
class Stop:
    """One numbered stop of a day, with the road km from the previous place."""

    number: int
    visit_code: str
    enterprise: str
    address: str
    lat: float
    lon: float
    start: dt.time
    end: dt.time
    km_from_previous: float


@dataclass(frozen=True)
class InspectorDay:
    """One inspector's day: home, stops in order of start, and the way back."""

    inspector_id: int
    code: str
    name: str
    department: str
    home: tuple[float, float]
    stops: tuple[Stop, ...]
    km_back_home: float

    @property
    def total_km(self) -> float:
        """Road km of the whole day, home to home."""
        return sum(s.km_from_previous for s in self.stops) + self.km_back_home

    @property
    def legs(self) -> int:
        """Travel lines drawn: home → each stop, and back home (none on a day off)."""
        return len(self.stops) + 1 if self.stops else 0


@dataclass
class RouteData:
    """The day and the inspectors whose routes the map draws."""

    day: dt.date
    visit_code: str | None
    members: list[InspectorDay]


def _day_schedules(db_session: Session, day: dt.date) -> list[int]:
    return schedules_in_force(db_session, Period(day.isoformat(), day.year, day, day))


def _inspector(db_session: Session, code: str) -> Inspector:
    person = db_session.scalars(select(Inspector).where(Inspector.code == code)).first()
    if person is None:
        raise NotFound(f"执法人员 {code} 不存在")
    return person


def _team_visit(db_session: Session, code: str, day: dt.date | None) -> Visit:
    query = (
        select(Visit)
        .join(ScheduleVersion, ScheduleVersion.id == Visit.schedule_id)
        .where(ScheduleVersion.state == "published", Visit.code == code)
        .order_by(Visit.day)
    )
    if day is not None:
        query = query.where(Visit.day == day)
    found = db_session.scalars(query).all()
    if not found:
        raise NotFound(f"已发布排程中没有检查 {code}")
    if len(found) > 1:
        raise CheckOnceError(f"检查编号 {code} 出现在多个已发布排程中，请同时指定日期（--day）")
    return found[0]


def _check_scope(
    db_session: Session, viewer: Viewer, people: list[Inspector], visit: Visit | None
) -> None:
    if viewer.sees_all:
        return
    if viewer.role == "inspector" and viewer.inspector_id in {p.id for p in people}:
        # An officer sees their own day, and the day of a team they are a member of.
        return
    if viewer.role == "bureau" and viewer.department_id is not None:
        if visit is None and people[0].department_id == viewer.department_id:
            return
        if visit is not None:
            depts = set(
                db_session.scalars(
                    select(InspectionTask.department_id)
                    .join(VisitTask, VisitTask.inspection_task_id == InspectionTask.id)
                    .where(VisitTask.visit_id == visit.id)
                )
            )
            if viewer.department_id in depts | {visit.lead_department_id}:
                return
    raise Forbidden("无权查看该执法人员的路线")


def inspector_day(
    db_session: Session, person: Inspector, day: dt.date, schedule_ids: list[int]
) -> InspectorDay:
    """One inspector's stops on `day` in order of start, with the km of each leg."""
    rows = db_session.execute(
        select(Visit, Enterprise)
        .join(VisitInspector, VisitInspector.visit_id == Visit.id)
        .join(Enterprise, Enterprise.id == Visit.enterprise_id)
        .where(
            VisitInspector.inspector_id == person.id,
            Visit.day == day,
            Visit.schedule_id.in_(schedule_ids),
            Visit.state.in_((*LIVE_VISIT_STATES, "missed")),
        )
        .order_by(Visit.start, Visit.id)
    ).all()
    home = (person.home_lat, person.home_lon)
    here = home
    stops = []
    for number, (visit, firm) in enumerate(rows, start=1):
        place = (firm.lat, firm.lon)
        stops.append(
            Stop(
                number,
                visit.code,
                firm.name,
                firm.address,
                firm.lat,
                firm.lon,
                visit.start,
                visit.end,
                round(TRAVEL.km(here, place), 2),
            )
        )
        here = place
    return InspectorDay(
        person.id,
        person.code,
        person.name,
        person.department.short_name,
        home,
        tuple(stops),
        round(TRAVEL.km(here, home), 2) if stops else 0.0,
    )


def route_data(
    *, db_session: Session, filters: RouteFilter, viewer: Viewer | None = None
) -> RouteData:
    """The day(s) the route map draws, if `viewer` may see them."""
    viewer = viewer or Viewer()
    if filters.visit_code is not None:
        visit = _team_visit(db_session, filters.visit_code, filters.day)
        people = [member.inspector for member in visit.team]
        day = visit.day
    else:
        visit = None
        people = [_inspector(db_session, filters.inspector_code or "")]
        day = filters.day or dt.date.today()
    _check_scope(db_session, viewer, people, visit)
    schedule_ids = _day_schedules(db_session, day)
    return RouteData(
        day,
        filters.visit_code,
        [inspector_day(db_session, person, day, schedule_ids) for person in people],
    )


def route_map(
    data: RouteData, jurisdiction: Jurisdiction, settings: MapSettings | None = None
) -> folium.Map:
    """Numbered stops and travel lines, one layer per inspector."""
    stops = sum(len(m.stops) for m in data.members)
    who = (
        f"检查 {data.visit_code} 的执法组（{len(data.members)} 人）"
        if data.visit_code
        else f"{data.members[0].name}（{data.members[0].code}）"
    )
    focus = [m.home for m in data.members if m.stops] + [
        (s.lat, s.lon) for m in data.members for s in m.stops
    ]
    fmap = base_map(jurisdiction, f"{data.day} {who}路线：{stops} 个站点", settings, focus=focus)
    legend = []
    for index, member in enumerate(data.members):
        colour = PALETTE[index % len(PALETTE)]
        layer = folium.FeatureGroup(
            name=f"{member.name}（{len(member.stops)} 站，约 {member.total_km:.1f} km）"
        )
        folium.Marker(
            member.home,
            icon=folium.DivIcon(
                html=f'<div class="co-home">{html.escape(member.name)} 驻地</div>',
                icon_size=(80, 20),
                icon_anchor=(0, 10),
            ),
            tooltip=tooltip_html(f"{member.name}（{member.department}）出发与返回"),
        ).add_to(layer)
        path = [member.home, *((s.lat, s.lon) for s in member.stops), member.home]
        for leg, (a, b) in enumerate(itertools.pairwise(path)):
            if not member.stops:
                break
            km = (
                member.stops[leg].km_from_previous
                if leg < len(member.stops)
                else member.km_back_home
            )
            folium.PolyLine(
                [a, b], color=colour, weight=4, opacity=0.8, tooltip=f"约 {km:.1f} km"
            ).add_to(layer)
        for stop in member.stops:
            folium.Marker(
                (stop.lat, stop.lon),
                icon=folium.DivIcon(
                    html=f'<div class="co-stop" style="background:{colour}">{stop.number}</div>',
                    icon_size=(24, 24),
                    icon_anchor=(12, 12),
                ),
                tooltip=tooltip_html(
                    f"第 {stop.number} 站 {clock(stop.start)}–{clock(stop.end)}",
                    stop.enterprise,
                    stop.address,
                    f"检查编号 {stop.visit_code}；上一地点至此约 {stop.km_from_previous:.1f} km",
                ),
            ).add_to(layer)
        layer.add_to(fmap)
        legend.append((colour, f"{member.name} {member.department}"))
    Legend("执法人员", legend).add_to(fmap)
    return fmap
