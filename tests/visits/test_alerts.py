"""Repeat-entry alerts: > 1 entry a day, > 2 an ISO week, > 3 a month for one enterprise,
whatever caused the entries; a joint visit counts once; the coordinators' list filters."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from checkonce.visits.alerts import (
    AlertFilter,
    count_entries,
    list_alerts,
    month_window,
    week_window,
    windows_of,
)
from checkonce.visits.checkin_models import EntryAlert
from tests import factories as f
from tests.visits.test_checkin import NOW, POLICY, ZONE, do_check_in, request, visit


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, 0), tzinfo=ZONE)


def enter(session, firm, day: dt.date, dept: str = "SAMR", hour: int = 10):
    """One live entry into `firm` on `day` at `hour`, the server clock then."""
    person = f.inspector(session, dept)
    when = at(day, hour)
    return do_check_in(session, person, request(session, firm, client_time=when), now=when)


def alerts(session, firm, kind: str) -> list[EntryAlert]:
    return list(
        session.scalars(
            select(EntryAlert)
            .where(EntryAlert.enterprise_id == firm.id, EntryAlert.kind == kind)
            .order_by(EntryAlert.window_start)
        )
    )


def test_windows_follow_iso_weeks_and_calendar_months():
    # 2026-12-31 is a Thursday of ISO week 53 of 2026; 2027-01-03 (Sunday) is in it too.
    week = week_window(dt.date(2027, 1, 3), 2)
    assert (week.key, week.start, week.end) == (
        "2026-W53",
        dt.date(2026, 12, 28),
        dt.date(2027, 1, 3),
    )
    assert week_window(dt.date(2027, 1, 4), 2).key == "2027-W01"
    feb = month_window(dt.date(2028, 2, 10), 3)
    assert (feb.key, feb.start, feb.end) == ("2028-02", dt.date(2028, 2, 1), dt.date(2028, 2, 29))
    kinds = [(w.kind, w.threshold) for w in windows_of(dt.date(2026, 11, 18), POLICY)]
    assert kinds == [("entries_per_day", 1), ("entries_per_week", 2), ("entries_per_month", 3)]


def test_a_second_entry_the_same_day_raises_a_day_alert(db_session):
    s = db_session
    firm = f.enterprise(s)
    day = NOW.date()
    enter(s, firm, day, "SAMR", hour=9)
    assert alerts(s, firm, "entries_per_day") == []
    enter(s, firm, day, "FIRE", hour=9)
    [alert] = alerts(s, firm, "entries_per_day")
    assert (alert.count, alert.threshold, alert.window_key) == (2, 1, day.isoformat())
    # A third entry updates the same alert rather than raising another.
    enter(s, firm, day, "SEE", hour=10)
    [alert] = alerts(s, firm, "entries_per_day")
    assert alert.count == 3


def test_three_entries_in_an_iso_week_raise_a_week_alert(db_session):
    s = db_session
    firm = f.enterprise(s)
    monday = dt.date(2026, 11, 16)  # NOW is Wednesday 2026-11-18
    enter(s, firm, monday - dt.timedelta(days=1))  # Sunday: the previous ISO week
    enter(s, firm, monday)
    enter(s, firm, monday + dt.timedelta(days=1))
    assert alerts(s, firm, "entries_per_week") == []
    enter(s, firm, monday + dt.timedelta(days=2))
    [alert] = alerts(s, firm, "entries_per_week")
    assert (alert.window_key, alert.count, alert.threshold) == ("2026-W47", 3, 2)
    assert alerts(s, firm, "entries_per_day") == []


def test_four_entries_in_a_month_raise_a_month_alert(db_session):
    s = db_session
    firm = f.enterprise(s)
    days = [dt.date(2026, 11, d) for d in (9, 12, 16)]  # three ISO weeks, three entries
    enter(s, firm, dt.date(2026, 10, 31))  # October: another month
    for day in days:
        enter(s, firm, day)
    assert alerts(s, firm, "entries_per_month") == []
    enter(s, firm, dt.date(2026, 11, 18))
    [alert] = alerts(s, firm, "entries_per_month")
    assert (alert.window_key, alert.count, alert.threshold) == ("2026-11", 4, 3)
    assert alerts(s, firm, "entries_per_day") == []


def test_a_joint_visit_is_one_entry_however_many_check_in(db_session):
    s = db_session
    firm = f.enterprise(s)
    team = [f.inspector(s), f.inspector(s), f.inspector(s, "FIRE")]
    visit(s, firm, team, items=("SAMR-SP-001", "FIRE-001"))
    for person in team:
        assert do_check_in(s, person, request(s, firm)).checkin.outcome == "planned"
    day = NOW.date()
    assert count_entries(db_session=s, enterprise_id=firm.id, start=day, end=day) == 1
    assert s.scalars(select(EntryAlert).where(EntryAlert.enterprise_id == firm.id)).all() == []


def test_planned_and_unplanned_entries_count_alike(db_session):
    s = db_session
    firm = f.enterprise(s)
    team = [f.inspector(s), f.inspector(s)]
    visit(s, firm, team)
    do_check_in(s, team[0], request(s, firm))
    enter(s, firm, NOW.date(), "FIRE", hour=14)
    [alert] = alerts(s, firm, "entries_per_day")
    assert alert.count == 2
    assert len(alerts(s, firm, "unplanned_entry")) == 1


@pytest.mark.parametrize("hours_apart, entries", [(1, 1), (3, 2)])
def test_unplanned_colleagues_arriving_together_are_one_entry(db_session, hours_apart, entries):
    s = db_session
    firm = f.enterprise(s)
    day = NOW.date() - dt.timedelta(days=1)
    enter(s, firm, day, "SAMR", hour=9)
    enter(s, firm, day, "SAMR", hour=9 + hours_apart)
    assert count_entries(db_session=s, enterprise_id=firm.id, start=day, end=day) == entries


def test_the_alert_list_filters_and_pages(db_session):
    s = db_session
    firm, other = f.enterprise(s), f.enterprise(s)
    day = NOW.date()
    enter(s, firm, day, "SAMR", hour=9)
    enter(s, firm, day, "FIRE", hour=9)
    enter(s, other, day - dt.timedelta(days=5), "SAMR")

    mine, total = list_alerts(db_session=s, filters=AlertFilter(credit_code=firm.credit_code))
    assert total == 3 and {a.kind for a in mine} == {"unplanned_entry", "entries_per_day"}
    page, total = list_alerts(
        db_session=s, filters=AlertFilter(credit_code=firm.credit_code), limit=2, offset=2
    )
    assert total == 3 and len(page) == 1
    daily, total = list_alerts(
        db_session=s, filters=AlertFilter(kind="entries_per_day", district=firm.district_adcode)
    )
    assert [a.enterprise_id for a in daily] == [firm.id]
    earlier, _ = list_alerts(
        db_session=s,
        filters=AlertFilter(
            kind="unplanned_entry",
            date_to=day - dt.timedelta(days=1),
            credit_code=other.credit_code,
        ),
    )
    assert [a.enterprise_id for a in earlier] == [other.id]
    with pytest.raises(ValueError):
        AlertFilter(kind="nonsense")


def test_window_counts_in_one_query_agree_with_counting_each_window(db_session):
    from checkonce.visits.alerts import count_windows

    s = db_session
    firm = f.enterprise(s)
    for day in (dt.date(2026, 10, 30), dt.date(2026, 11, 2), dt.date(2026, 11, 16)):
        enter(s, firm, day)
    enter(s, firm, dt.date(2026, 11, 16), "FIRE", hour=15)
    for day in (dt.date(2026, 11, 1), dt.date(2026, 11, 16), dt.date(2026, 11, 30)):
        windows = windows_of(day, POLICY)
        one_query = count_windows(db_session=s, enterprise_id=firm.id, windows=windows)
        each = [
            count_entries(db_session=s, enterprise_id=firm.id, start=w.start, end=w.end)
            for w in windows
        ]
        assert one_query == each
    assert count_windows(
        db_session=s, enterprise_id=firm.id, windows=windows_of(dt.date(2026, 11, 16), POLICY)
    ) == [2, 2, 3]
