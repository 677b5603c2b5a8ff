"""Repeat-entry alerts: an enterprise entered more than policy allows (> 1 a day, > 2 an ISO
week, > 3 a month by default) raises one alert per window, whatever caused the entries
(planned, unplanned, triggered, back-filled); an unplanned entry raises its own alert.

Entries, not check-ins, are counted: a merged joint visit is one entry for the enterprise
however many inspectors of its team check in (DESIGN.md, "Frequency caps").
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from checkonce.db import utcnow
from checkonce.policy import Policy
from checkonce.registry.models import Enterprise
from checkonce.visits.checkin_models import ALERT_KINDS, CheckIn, Entry, EntryAlert


@dataclass(frozen=True)
class Window:
    """A calendar window an enterprise's entries are counted in."""

    kind: str
    key: str
    start: dt.date
    end: dt.date
    threshold: int


def day_window(day: dt.date, threshold: int) -> Window:
    return Window("entries_per_day", day.isoformat(), day, day, threshold)


def week_window(day: dt.date, threshold: int) -> Window:
    """The ISO week (Monday to Sunday) holding `day`."""
    year, week, weekday = day.isocalendar()
    start = day - dt.timedelta(days=weekday - 1)
    return Window(
        "entries_per_week", f"{year}-W{week:02d}", start, start + dt.timedelta(days=6), threshold
    )


def month_window(day: dt.date, threshold: int) -> Window:
    last = calendar.monthrange(day.year, day.month)[1]
    return Window(
        "entries_per_month",
        f"{day:%Y-%m}",
        day.replace(day=1),
        day.replace(day=last),
        threshold,
    )


def windows_of(day: dt.date, policy: Policy) -> list[Window]:
    """The day, ISO week and month windows around `day`, with the policy's thresholds."""
    caps = policy.caps
    return [
        day_window(day, caps.alert_entries_per_day),
        week_window(day, caps.alert_entries_per_week),
        month_window(day, caps.alert_entries_per_month),
    ]


def count_entries(*, db_session: Session, enterprise_id: int, start: dt.date, end: dt.date) -> int:
    """Entries into the enterprise on days start..end (inclusive)."""
    return (
        db_session.scalar(
            select(func.count(Entry.id)).where(
                Entry.enterprise_id == enterprise_id, Entry.day >= start, Entry.day <= end
            )
        )
        or 0
    )


def count_windows(*, db_session: Session, enterprise_id: int, windows: list[Window]) -> list[int]:
    """Entries into the enterprise in each window, in one query (a check-in's hot path)."""
    sums = [
        func.coalesce(
            func.sum(case((and_(Entry.day >= w.start, Entry.day <= w.end), 1), else_=0)), 0
        )
        for w in windows
    ]
    row = db_session.execute(
        select(*sums).where(
            Entry.enterprise_id == enterprise_id,
            Entry.day >= min(w.start for w in windows),
            Entry.day <= max(w.end for w in windows),
        )
    ).one()
    return [int(value) for value in row]


def _set_count(
    db_session: Session,
    alert: EntryAlert | None,
    *,
    kind: str,
    enterprise_id: int,
    key: str,
    start: dt.date,
    end: dt.date,
    count: int,
    threshold: int,
    checkin_id: int | None,
    entry_id: int | None = None,
) -> EntryAlert:
    """The standing `alert` with its count set (a new one when None); not flushed."""
    now = utcnow()
    if alert is None:
        alert = EntryAlert(
            kind=kind,
            enterprise_id=enterprise_id,
            window_key=key,
            window_start=start,
            window_end=end,
            count=count,
            threshold=threshold,
            entry_id=entry_id,
            last_checkin_id=checkin_id,
            raised_at=now,
            updated_at=now,
        )
        db_session.add(alert)
    elif alert.count != count:
        alert.count = count
        alert.last_checkin_id = checkin_id
        alert.updated_at = now
    return alert


def _upsert(
    db_session: Session,
    *,
    kind: str,
    enterprise_id: int,
    key: str,
    start: dt.date,
    end: dt.date,
    count: int,
    threshold: int,
    checkin_id: int | None,
    entry_id: int | None = None,
) -> EntryAlert:
    alert = db_session.scalars(
        select(EntryAlert).where(
            EntryAlert.kind == kind,
            EntryAlert.enterprise_id == enterprise_id,
            EntryAlert.window_key == key,
        )
    ).first()
    alert = _set_count(
        db_session,
        alert,
        kind=kind,
        enterprise_id=enterprise_id,
        key=key,
        start=start,
        end=end,
        count=count,
        threshold=threshold,
        checkin_id=checkin_id,
        entry_id=entry_id,
    )
    db_session.flush()
    return alert


def check_repeat_entries(
    *, db_session: Session, enterprise_id: int, day: dt.date, policy: Policy, checkin_id: int | None
) -> list[EntryAlert]:
    """Raise or update an alert for each window around `day` whose entry count exceeds the
    policy; the alerts now standing for those windows are returned."""
    windows = windows_of(day, policy)
    counts = count_windows(db_session=db_session, enterprise_id=enterprise_id, windows=windows)
    exceeded = [(w, n) for w, n in zip(windows, counts, strict=True) if n > w.threshold]
    if not exceeded:
        return []
    # The standing alerts of all exceeded windows in one query, then one flush for all.
    standing = {
        (alert.kind, alert.window_key): alert
        for alert in db_session.scalars(
            select(EntryAlert).where(
                EntryAlert.enterprise_id == enterprise_id,
                or_(
                    *(
                        and_(EntryAlert.kind == w.kind, EntryAlert.window_key == w.key)
                        for w, _n in exceeded
                    )
                ),
            )
        )
    }
    raised = [
        _set_count(
            db_session,
            standing.get((window.kind, window.key)),
            kind=window.kind,
            enterprise_id=enterprise_id,
            key=window.key,
            start=window.start,
            end=window.end,
            count=count,
            threshold=window.threshold,
            checkin_id=checkin_id,
        )
        for window, count in exceeded
    ]
    db_session.flush()
    return raised


def raise_unplanned_entry(
    *, db_session: Session, entry: Entry, checkin_id: int, new_entry: bool = False
) -> EntryAlert:
    """The alert of an unplanned entry (计划外入企); its count is the inspectors checked in.
    `new_entry`: the check-in just made the entry, so it is its only inspector and the entry
    has no alert yet (nothing to read)."""
    if new_entry:
        alert = _set_count(
            db_session,
            None,
            kind="unplanned_entry",
            enterprise_id=entry.enterprise_id,
            key=f"entry:{entry.id}",
            start=entry.day,
            end=entry.day,
            count=1,
            threshold=0,
            checkin_id=checkin_id,
            entry_id=entry.id,
        )
        db_session.flush()
        return alert
    inspectors = (
        db_session.scalar(
            select(func.count(func.distinct(CheckIn.inspector_id))).where(
                CheckIn.entry_id == entry.id
            )
        )
        or 1
    )
    return _upsert(
        db_session,
        kind="unplanned_entry",
        enterprise_id=entry.enterprise_id,
        key=f"entry:{entry.id}",
        start=entry.day,
        end=entry.day,
        count=inspectors,
        threshold=0,
        checkin_id=checkin_id,
        entry_id=entry.id,
    )


@dataclass(frozen=True)
class AlertFilter:
    """Filters of the coordinators' alert list."""

    kind: str | None = None
    credit_code: str | None = None
    district: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in ALERT_KINDS:
            raise ValueError(f"unknown alert kind {self.kind!r}")


def alerts_query(filters: AlertFilter) -> Select:
    """Alerts matching `filters`, newest first (windows overlapping date_from..date_to)."""
    stmt = select(EntryAlert).join(Enterprise, EntryAlert.enterprise_id == Enterprise.id)
    if filters.kind:
        stmt = stmt.where(EntryAlert.kind == filters.kind)
    if filters.credit_code:
        stmt = stmt.where(Enterprise.credit_code == filters.credit_code.strip().upper())
    if filters.district:
        stmt = stmt.where(Enterprise.district_adcode == filters.district)
    if filters.date_from:
        stmt = stmt.where(EntryAlert.window_end >= filters.date_from)
    if filters.date_to:
        stmt = stmt.where(EntryAlert.window_start <= filters.date_to)
    return stmt


def list_alerts(
    *, db_session: Session, filters: AlertFilter, limit: int = 50, offset: int = 0
) -> tuple[list[EntryAlert], int]:
    """A page of alerts and the total matching."""
    stmt = alerts_query(filters)
    total = db_session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db_session.scalars(
        stmt.order_by(EntryAlert.updated_at.desc(), EntryAlert.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total
