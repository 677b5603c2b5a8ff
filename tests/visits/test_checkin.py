"""Check-in (扫码入企): planned and unplanned entries, the geofence, back-fill (补录) limits,
idempotency, and refused codes storing nothing. The helpers at the top build a published
schedule version and its visits directly (the other test modules of check-in import them)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from checkonce.errors import Conflict
from checkonce.visits import codes
from checkonce.visits.checkin import (
    CheckinRefused,
    CheckinRequest,
    check_in,
    distance_m,
)
from checkonce.visits.checkin_models import CheckIn, Entry, EntryAlert
from checkonce.visits.models import ScheduleVersion, Visit, VisitInspector, VisitTask
from tests import factories as f

SECRET = "checkin-test-secret-" + "s" * 32
ZONE = ZoneInfo("Asia/Shanghai")
# A Wednesday morning in Xi'an.
NOW = dt.datetime(2026, 11, 18, 10, 0, tzinfo=ZONE)
TODAY = NOW.date()
POLICY = f.policy()
_serial = itertools.count(1)
_keys = itertools.count(1)


def schedule(session, state: str = "published") -> ScheduleVersion:
    """A schedule version of its own period (one published version per period)."""
    n = next(_serial)
    version = ScheduleVersion(
        period=f"T{n:07d}", version=1, state=state, seed="0" * 64, created_by="test"
    )
    session.add(version)
    session.flush()
    return version


def inspection_task(session, firm, item_code: str = "SAMR-SP-001", day: dt.date = TODAY):
    """An approved-plan task of `item_code` at `firm` whose window holds `day`."""
    return f.inspection_task(session, firm, item_code, day)


def visit(
    session,
    firm,
    team,
    *,
    day: dt.date = TODAY,
    items: tuple[str, ...] = ("SAMR-SP-001",),
    state: str = "scheduled",
    version: ScheduleVersion | None = None,
    code: str | None = None,
) -> Visit:
    """A visit of `firm` on `day` by `team` (inspectors), in a published version by default."""
    version = version or schedule(session)
    tasks = [inspection_task(session, firm, code, day) for code in items]
    row = Visit(
        schedule_id=version.id,
        code=code or f"V{next(_serial):05d}",
        enterprise_id=firm.id,
        day=day,
        start=dt.time(9, 30),
        end=dt.time(11, 0),
        lead_department_id=tasks[0].department_id,
        state=state,
    )
    session.add(row)
    session.flush()
    for task in tasks:
        session.add(VisitTask(visit_id=row.id, inspection_task_id=task.id))
    for position, person in enumerate(team):
        session.add(VisitInspector(visit_id=row.id, inspector_id=person.id, position=position))
    session.flush()
    return row


def scan_of(session, firm) -> str:
    """The URL a phone reads from `firm`'s poster."""
    token = codes.enterprise_token(
        db_session=session, secret_key=SECRET, credit_code=firm.credit_code
    )
    return codes.enterprise_url("https://checkonce.example.gov.cn", token)


def offset(firm, metres_north: float) -> tuple[float, float]:
    """A point `metres_north` of the enterprise."""
    return firm.lat + metres_north / 111_195.0, firm.lon


def request(session, firm, **overrides) -> CheckinRequest:
    """A live check-in at the door of `firm` now, with a fresh idempotency key."""
    lat, lon = offset(firm, 20)
    values = {
        "scanned": scan_of(session, firm),
        "client_time": NOW - dt.timedelta(seconds=30),
        "idempotency_key": f"key-{next(_keys):08d}",
        "lat": lat,
        "lon": lon,
    }
    values.update(overrides)
    return CheckinRequest(**values)


def do_check_in(session, person, req: CheckinRequest, now: dt.datetime = NOW):
    return check_in(
        db_session=session,
        secret_key=SECRET,
        policy=POLICY,
        inspector_id=person.id,
        actor=f.as_inspector(person),
        request=req,
        now=now,
    )


@contextmanager
def statements(session) -> Iterator[list[str]]:
    """The SQL statements run on `session`'s database inside the block. Transaction control
    is left out: the tests' savepoints belong to the harness, not to the code under test."""
    ran: list[str] = []
    engine = session.get_bind().engine

    def record(_conn, _cursor, statement, _params, _context, _executemany) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN")):
            ran.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield ran
    finally:
        event.remove(engine, "before_cursor_execute", record)


def count(session, model, **where) -> int:
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return session.scalar(stmt)


# --- planned and unplanned ------------------------------------------------------------------


def test_planned_check_in_checks_the_visit_in_and_records_each_member(db_session):
    s = db_session
    firm = f.enterprise(s)
    a, b = f.inspector(s), f.inspector(s)
    planned = visit(s, firm, [a, b])

    first = do_check_in(s, a, request(s, firm))
    assert first.checkin.outcome == "planned" and first.checkin.visit_id == planned.id
    assert not first.replayed
    s.refresh(planned)
    assert planned.state == "checked_in"

    second = do_check_in(s, b, request(s, firm))
    assert second.checkin.visit_id == planned.id
    assert second.checkin.entry_id == first.checkin.entry_id
    assert count(s, CheckIn, visit_id=planned.id) == 2
    # A joint team is one entry for the enterprise, and a planned entry raises nothing.
    assert count(s, Entry, enterprise_id=firm.id) == 1
    assert count(s, EntryAlert, enterprise_id=firm.id) == 0


def republish(session, old: Visit, team, state: str = "checked_in") -> Visit:
    """A re-plan: the old version superseded, the frozen visit copied under its code."""
    period = old.schedule.period
    old.schedule.state = "superseded"
    session.flush()
    version = ScheduleVersion(
        period=period, version=2, state="published", seed="1" * 64, created_by="test"
    )
    session.add(version)
    session.flush()
    return visit(
        session, old.enterprise, team, day=old.day, version=version, code=old.code, state=state
    )


def test_a_re_plan_between_two_members_check_ins_keeps_one_entry(db_session):
    s = db_session
    firm = f.enterprise(s)
    a, b = f.inspector(s), f.inspector(s)
    first_version = visit(s, firm, [a, b])
    one = do_check_in(s, a, request(s, firm)).checkin
    copy = republish(s, first_version, [a, b])
    two = do_check_in(s, b, request(s, firm)).checkin
    assert (one.visit_id, two.visit_id) == (first_version.id, copy.id)
    assert two.entry_id == one.entry_id
    assert count(s, Entry, enterprise_id=firm.id) == 1
    assert count(s, EntryAlert, enterprise_id=firm.id) == 0


def test_no_visit_today_is_an_unplanned_entry_with_an_alert(db_session):
    s = db_session
    firm = f.enterprise(s)
    a, b = f.inspector(s), f.inspector(s)
    visit(s, firm, [a, b], day=TODAY + dt.timedelta(days=1))  # tomorrow's visit

    result = do_check_in(s, a, request(s, firm))
    assert result.checkin.outcome == "unplanned" and result.checkin.visit_id is None
    alert = s.scalars(select(EntryAlert).where(EntryAlert.enterprise_id == firm.id)).one()
    assert (alert.kind, alert.count, alert.window_start) == ("unplanned_entry", 1, TODAY)

    # A colleague of the same department arriving with them joins the same entry.
    do_check_in(s, b, request(s, firm))
    s.refresh(alert)
    assert alert.count == 2
    assert count(s, Entry, enterprise_id=firm.id) == 1


@pytest.mark.parametrize("why", ["draft_version", "not_on_team", "cancelled", "other_firm"])
def test_visits_not_in_force_or_not_mine_do_not_match(db_session, why):
    s = db_session
    firm, other_firm = f.enterprise(s), f.enterprise(s)
    me, colleague = f.inspector(s), f.inspector(s)
    if why == "draft_version":
        visit(s, firm, [me, colleague], version=schedule(s, state="draft"))
    elif why == "not_on_team":
        visit(s, firm, [colleague, f.inspector(s)])
    elif why == "cancelled":
        visit(s, firm, [me, colleague], state="cancelled")
    else:
        visit(s, other_firm, [me, colleague])
    assert do_check_in(s, me, request(s, firm)).checkin.outcome == "unplanned"


# --- geofence -------------------------------------------------------------------------------


def test_haversine_distance():
    # One degree of latitude is 111.195 km on the mean-radius sphere.
    assert distance_m(34.0, 108.0, 35.0, 108.0) == pytest.approx(111_195, abs=1)
    assert distance_m(34.2197, 108.964, 34.2197, 108.964) == 0
    # Bell Tower (钟楼) to the Big Wild Goose Pagoda (大雁塔): about 5 km.
    assert distance_m(34.2610, 108.9426, 34.2197, 108.9640) == pytest.approx(4_980, rel=0.02)


@pytest.mark.parametrize(
    "metres, flagged", [(0, False), (150, False), (290, False), (320, True), (2_000, True)]
)
def test_geofence_distance_is_stored_and_flagged_beyond_the_radius(db_session, metres, flagged):
    s = db_session
    firm = f.enterprise(s)
    lat, lon = offset(firm, metres)
    row = do_check_in(s, f.inspector(s), request(s, firm, lat=lat, lon=lon)).checkin
    assert row.distance_m == pytest.approx(metres, abs=1)
    assert row.outside_geofence is flagged
    assert POLICY.checkin.geofence_radius_m == 300


# --- time rules and back-fill ---------------------------------------------------------------


def test_live_check_in_needs_a_location(db_session):
    s = db_session
    firm = f.enterprise(s)
    with pytest.raises(CheckinRefused, match="定位"):
        do_check_in(s, f.inspector(s), request(s, firm, lat=None, lon=None))
    assert count(s, CheckIn, enterprise_id=firm.id) == 0


def test_yesterdays_scan_must_come_as_a_back_fill(db_session):
    s = db_session
    firm = f.enterprise(s)
    with pytest.raises(CheckinRefused, match="补录") as caught:
        do_check_in(s, f.inspector(s), request(s, firm, client_time=NOW - dt.timedelta(days=1)))
    assert caught.value.code == "backfill_required"


def test_a_client_clock_far_ahead_is_refused(db_session):
    s = db_session
    firm = f.enterprise(s)
    with pytest.raises(CheckinRefused, match="校准"):
        do_check_in(s, f.inspector(s), request(s, firm, client_time=NOW + dt.timedelta(hours=1)))


@pytest.mark.parametrize("days_ago", [0, 1, 9, 10])
def test_back_fill_within_ten_calendar_days_is_accepted_and_flagged(db_session, days_ago):
    s = db_session
    firm = f.enterprise(s)
    a, b = f.inspector(s), f.inspector(s)
    day = TODAY - dt.timedelta(days=days_ago)
    # The sweep may already have marked the visit missed; the back-fill shows it happened.
    planned = visit(s, firm, [a, b], day=day, state="missed" if days_ago else "scheduled")
    when = dt.datetime.combine(day, dt.time(9, 40), tzinfo=ZONE)
    result = do_check_in(
        s, a, request(s, firm, client_time=when, lat=None, lon=None, backfill_reason="现场无信号")
    )
    row = result.checkin
    assert row.backfill and row.backfill_reason == "现场无信号"
    assert row.day == day and row.outcome == "planned" and row.visit_id == planned.id
    assert row.checked_in_at.replace(tzinfo=None) == when.astimezone(dt.UTC).replace(tzinfo=None)
    s.refresh(planned)
    assert planned.state == "checked_in"


def test_back_fill_over_ten_days_is_refused_and_stores_nothing(db_session):
    s = db_session
    firm = f.enterprise(s)
    when = dt.datetime.combine(TODAY - dt.timedelta(days=11), dt.time(23, 59), tzinfo=ZONE)
    with pytest.raises(CheckinRefused, match="超过 10 个自然日") as caught:
        do_check_in(s, f.inspector(s), request(s, firm, client_time=when, backfill_reason="忘记"))
    assert caught.value.code == "backfill_too_late"
    assert count(s, CheckIn, enterprise_id=firm.id) == 0
    assert count(s, Entry, enterprise_id=firm.id) == 0


def test_back_fill_counts_calendar_days_in_local_time(db_session):
    """00:30 in Xi'an ten days ago is still the tenth calendar day (16:30 UTC the day before)."""
    s = db_session
    firm = f.enterprise(s)
    when = dt.datetime.combine(TODAY - dt.timedelta(days=10), dt.time(0, 30), tzinfo=ZONE)
    row = do_check_in(
        s, f.inspector(s), request(s, firm, client_time=when, backfill_reason="补录测试")
    ).checkin
    assert row.day == TODAY - dt.timedelta(days=10)


def test_a_back_filled_unplanned_entry_is_still_an_alert(db_session):
    s = db_session
    firm = f.enterprise(s)
    when = NOW - dt.timedelta(days=3)
    row = do_check_in(
        s, f.inspector(s), request(s, firm, client_time=when, backfill_reason="手机没电")
    ).checkin
    assert row.outcome == "unplanned"
    alert = s.scalars(select(EntryAlert).where(EntryAlert.entry_id == row.entry_id)).one()
    assert alert.window_start == when.date()


# --- idempotency ----------------------------------------------------------------------------


def test_the_same_key_twice_gives_one_record_and_the_same_answer(db_session):
    s = db_session
    firm = f.enterprise(s)
    a, b = f.inspector(s), f.inspector(s)
    visit(s, firm, [a, b])
    req = request(s, firm)
    first = do_check_in(s, a, req)
    again = do_check_in(s, a, req, now=NOW + dt.timedelta(minutes=3))
    assert again.replayed and again.checkin.id == first.checkin.id
    assert again.checkin.checked_in_at == first.checkin.checked_in_at
    assert count(s, CheckIn, inspector_id=a.id) == 1
    # Keys belong to an inspector: a colleague's phone may produce the same one.
    other = do_check_in(s, b, req)
    assert not other.replayed and other.checkin.id != first.checkin.id


def test_the_same_key_with_another_body_is_refused(db_session):
    s = db_session
    firm = f.enterprise(s)
    me = f.inspector(s)
    req = request(s, firm)
    do_check_in(s, me, req)
    lat, lon = offset(firm, 900)
    changed = CheckinRequest(**{**req.__dict__, "lat": lat, "lon": lon})
    with pytest.raises(Conflict) as caught:
        do_check_in(s, me, changed)
    assert caught.value.code == "idempotency_key_reused"
    assert count(s, CheckIn, inspector_id=me.id) == 1


@pytest.mark.parametrize("key", ["short", "has space in it", "x" * 65, "键键键键键键键键"])
def test_bad_idempotency_keys_are_refused(db_session, key):
    s = db_session
    firm = f.enterprise(s)
    with pytest.raises(CheckinRefused, match="幂等键"):
        do_check_in(s, f.inspector(s), request(s, firm, idempotency_key=key))


def test_the_schema_refuses_a_second_row_with_the_same_key(db_session):
    """The unique constraint, not Python, is what makes a key count once."""
    from sqlalchemy.exc import IntegrityError

    s = db_session
    firm = f.enterprise(s)
    me = f.inspector(s)
    row = do_check_in(s, me, request(s, firm)).checkin
    copy = CheckIn(
        **{
            c.key: getattr(row, c.key)
            for c in CheckIn.__table__.columns
            if c.key not in ("id", "recorded_at")
        }
    )
    with pytest.raises(IntegrityError), s.begin_nested():
        s.add(copy)
        s.flush()


def test_a_check_in_takes_few_round_trips(db_session):
    """Every scan at every door runs this: it was 13–17 statements a check-in (one for the
    signing key, one to re-check the key after the lock, a savepoint, one to count the entries
    even when none was added, one per alert window). Keys are cached once read."""
    s = db_session
    firm = f.enterprise(s)
    a, b, c = f.inspector(s), f.inspector(s), f.inspector(s)
    planned = visit(s, firm, [a, b])
    # The first scan in a process reads the signing key; later ones find it cached.
    codes.enterprise_of_code(db_session=s, secret_key=SECRET, scanned=scan_of(s, firm))
    first, second, unplanned = request(s, firm), request(s, firm), request(s, firm)

    # Each new check-in also appends its audit record: the trail's head advanced (UPDATE …
    # RETURNING), the record inserted, the head's hash set: three statements, no reads.
    audit = 3
    with statements(s) as ran:
        result = do_check_in(s, a, first)
    assert result.checkin.visit_id == planned.id
    # inspector + replay, enterprise + lock, visit + entry, entry, check-in, visit, counts
    assert len(ran) <= 7 + audit, ran
    assert sum("audit_record" in sql for sql in ran) == 1

    with statements(s) as ran:
        joined = do_check_in(s, b, second)
    assert joined.checkin.entry_id == result.checkin.entry_id
    assert len(ran) <= 4 + audit, ran

    with statements(s) as ran:
        alone = do_check_in(s, c, unplanned)
    assert alone.checkin.outcome == "unplanned"
    kinds = set(s.scalars(select(EntryAlert.kind).where(EntryAlert.enterprise_id == firm.id)))
    assert kinds == {"unplanned_entry", "entries_per_day"}
    # ... + the unplanned entry's lookup, its alert, the day alert's lookup and insert
    assert len(ran) <= 10 + audit, ran

    with statements(s) as ran:
        again = do_check_in(s, c, unplanned)
    assert again.replayed and again.checkin.id == alone.checkin.id
    assert len(ran) <= 1, ran  # a replay adds no audit record


# --- refused codes store nothing ------------------------------------------------------------


def _tampered(scan: str) -> str:
    last = scan[-1]
    return scan[:-1] + ("A" if last != "A" else "B")


@pytest.mark.parametrize("how", ["tampered", "forged", "other_enterprise", "revoked"])
def test_refused_codes_store_nothing(db_session, how):
    s = db_session
    firm, other = f.enterprise(s), f.enterprise(s)
    me = f.inspector(s)
    scan = scan_of(s, firm)
    credit = None
    if how == "tampered":
        scan = _tampered(scan)
    elif how == "forged":
        scan = "E1.deadbeef." + firm.credit_code + ".AAAAAAAAAAAAAAAAAAAAAA"
    elif how == "other_enterprise":
        scan, credit = scan_of(s, other), firm.credit_code
    else:
        kid = codes.verify_enterprise_token(
            db_session=s, secret_key=SECRET, token=codes.token_from_scan(scan, "e")
        ).kid
        codes.revoke_key(db_session=s, kid=kid, actor=f.admin("test"), reason="海报外泄")
    with pytest.raises(codes.InvalidCode):
        do_check_in(s, me, request(s, firm, scanned=scan, credit_code=credit))
    assert count(s, CheckIn, inspector_id=me.id) == 0
    assert count(s, Entry, enterprise_id=firm.id) == 0
    assert count(s, EntryAlert, enterprise_id=firm.id) == 0


@pytest.mark.parametrize("year", [1, 9999])
def test_an_absurd_phone_clock_is_refused_not_a_crash(db_session, year):
    s = db_session
    firm = f.enterprise(s)
    absurd = dt.datetime(year, 1, 1, 0, 0) if year == 1 else dt.datetime(year, 12, 31, 23, 0)
    with pytest.raises(CheckinRefused, match="手机时间"):
        do_check_in(s, f.inspector(s), request(s, firm, client_time=absurd))
