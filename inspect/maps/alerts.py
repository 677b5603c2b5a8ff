"""Alert map (入企预警): unplanned entries (计划外入企) and repeat-entry alerts (an enterprise
entered more than policy allows in a day, week or month), one layer each, plus the count of
alerts per district.

Unplanned entries are drawn from the entry records themselves (each is one entry, whichever
department made it); repeat-entry alerts from the alert rows, at the enterprise's place. A
third layer shows checked-in visits whose enterprise has not confirmed the presence (签到未经
企业确认): the check-in and the phone's location are the inspector's claim until it does.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import folium
from sqlalchemy import select
from sqlalchemy.orm import Session

from checkonce.auth.service import Forbidden
from checkonce.maps.base import Legend, MapSettings, Points, base_map
from checkonce.maps.base import tooltip as tooltip_html
from checkonce.maps.scope import Viewer, departments
from checkonce.plans.periods import Period, parse_period
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.registry.models import Enterprise
from checkonce.visits.checkin_models import ALERT_KIND_NAMES, Entry, EntryAlert
from checkonce.visits.presence import unconfirmed_visits

REPEAT_KINDS = ("entries_per_day", "entries_per_week", "entries_per_month")
LAYER_COLOURS = {
    "unplanned": "#d62728",
    "unconfirmed": "#e377c2",
    "entries_per_day": "#ff7f0e",
    "entries_per_week": "#9467bd",
    "entries_per_month": "#8c564b",
}
WINDOW_NAMES = {"entries_per_day": "当日", "entries_per_week": "本周", "entries_per_month": "本月"}


@dataclass(frozen=True)
class AlertPoint:
    """An unplanned entry or a repeat-entry alert at the enterprise's place."""

    kind: str  # "unplanned", "unconfirmed" or a repeat-entry alert kind
    enterprise: str
    district: str
    lat: float
    lon: float
    start: dt.date
    end: dt.date
    text: str


@dataclass
class AlertData:
    """Everything the alert map draws."""

    period: Period | None
    points: list[AlertPoint]

    def count(self, kind: str) -> int:
        """Points of one kind ("unplanned", "unconfirmed" or a repeat-entry alert kind)."""
        return sum(1 for p in self.points if p.kind == kind)

    def per_district(self) -> Counter[str]:
        """Points per district adcode."""
        return Counter(p.district for p in self.points)


def alert_data(
    *, db_session: Session, period: str | None = None, viewer: Viewer | None = None
) -> AlertData:
    """Unplanned entries and repeat-entry alerts whose window lies in `period` (all if None).

    Repeat-entry alerts concern the enterprise, whoever entered, so they are for
    coordinators and admins only, as the alert list of the API is."""
    viewer = viewer or Viewer()
    if not viewer.sees_all:
        raise Forbidden("入企预警地图仅供协调机构查看")
    span = parse_period(period) if period else None
    names = {d.id: d.short_name for d in departments(db_session).values()}

    entries = select(Entry, Enterprise).join(Enterprise, Enterprise.id == Entry.enterprise_id)
    entries = entries.where(Entry.visit_id.is_(None)).order_by(Entry.day, Entry.id)
    if span:
        entries = entries.where(Entry.day.between(span.start, span.end))
    points = [
        AlertPoint(
            "unplanned",
            firm.name,
            firm.district_adcode,
            firm.lat,
            firm.lon,
            entry.day,
            entry.day,
            f"{entry.day} {names.get(entry.department_id, '')} 计划外入企",
        )
        for entry, firm in db_session.execute(entries)
    ]

    alerts = select(EntryAlert, Enterprise).join(
        Enterprise, Enterprise.id == EntryAlert.enterprise_id
    )
    alerts = alerts.where(EntryAlert.kind.in_(REPEAT_KINDS)).order_by(
        EntryAlert.window_start, EntryAlert.id
    )
    if span:
        alerts = alerts.where(
            EntryAlert.window_start <= span.end, EntryAlert.window_end >= span.start
        )
    points += [
        AlertPoint(
            alert.kind,
            firm.name,
            firm.district_adcode,
            firm.lat,
            firm.lon,
            alert.window_start,
            alert.window_end,
            f"{WINDOW_NAMES[alert.kind]}（{alert.window_start}–{alert.window_end}）"
            f"入企 {alert.count} 次，上限 {alert.threshold} 次",
        )
        for alert, firm in db_session.execute(alerts)
    ]
    points += [
        AlertPoint(
            "unconfirmed",
            visit.enterprise,
            visit.district,
            visit.lat,
            visit.lon,
            visit.day,
            visit.day,
            f"{visit.day} 检查 {visit.visit_code}：{'、'.join(visit.inspectors)} 签到，企业未确认到场"
            + (f"（{visit.flags}）" if visit.flags else ""),
        )
        for visit in unconfirmed_visits(
            db_session, start=span.start if span else None, end=span.end if span else None
        )
    ]
    return AlertData(span, points)


LAYER_NAMES = {
    "unplanned": "计划外入企",
    "unconfirmed": "签到未经企业确认",
    **{k: ALERT_KIND_NAMES[k] for k in REPEAT_KINDS},
}


def alert_map(
    data: AlertData, jurisdiction: Jurisdiction, settings: MapSettings | None = None
) -> folium.Map:
    """One unclustered layer per alert kind (alerts are few and each one matters)."""
    when = data.period.code if data.period else "全部"
    per_district = data.per_district()
    busiest = "、".join(
        f"{jurisdiction.districts[a].name} {n}"
        for a, n in per_district.most_common(3)
        if a in jurisdiction.districts
    )
    title = f"{when} 入企预警：{len(data.points)} 条" + (f"（最多：{busiest}）" if busiest else "")
    fmap = base_map(jurisdiction, title, settings)
    for kind, name in LAYER_NAMES.items():
        rows = [
            [p.lat, p.lon, LAYER_COLOURS[kind], tooltip_html(p.enterprise, p.text)]
            for p in data.points
            if p.kind == kind
        ]
        Points(rows, name=f"{name}（{len(rows)} 条）", cluster=False).add_to(fmap)
    Legend("预警类型", [(LAYER_COLOURS[k], n) for k, n in LAYER_NAMES.items()]).add_to(fmap)
    return fmap
