"""The enterprise's say in the time: feasible days computed with the scheduler's verifier,
once per visit, only for announced visits and only early enough; the re-plan honours the
request with everything else frozen and verifies the whole version."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from checkonce.audit.actor import Actor, Channel
from checkonce.documents import reschedule
from checkonce.documents.models import RequestState
from checkonce.errors import CheckOnceError
from checkonce.registry.models import InspectorUnavailability
from checkonce.sampling.service import team_key
from checkonce.visits.models import ScheduleVersion, Visit
from checkonce.visits.service import publish_schedule
from tests import factories as f

DAY = dt.date(2026, 11, 18)  # a Wednesday
TODAY = dt.date(2026, 11, 13)  # the Friday before: 3 workdays ahead, the notice day
PERIOD = "2026Q4"


def firm_actor(firm) -> Actor:
    return Actor(
        user_id=None,
        username=f"e{firm.id}",
        role="enterprise",
        channel=Channel.WEB,
        enterprise_id=firm.id,
    )


COORDINATOR = Actor(user_id=None, username="co", role="coordinator", channel=Channel.CLI)


@pytest.fixture
def scene(db_session):
    return build_scene(db_session)


def build_scene(s):
    """An announced joint visit of a restaurant on DAY, and the same SAMR officer's full day
    at another enterprise on 20 November, in one published version of 2026Q4."""
    firm, other = f.enterprise(s), f.enterprise(s)
    samr, fire = f.inspector(s, "SAMR"), f.inspector(s, "FIRE")
    colleague = f.inspector(s, "SAMR")
    # Each task of the joint visit has its team of two (the demo policy sets no joint rule).
    team = [samr, f.inspector(s, "SAMR"), fire, f.inspector(s, "FIRE")]
    visit = f.visit_with_tasks(
        s, firm, team, day=DAY, items=("SAMR-SP-001", "FIRE-001"), state="scheduled"
    )
    visit.announced = True
    version = visit.schedule
    version.period = PERIOD
    # a version of the ceremony: its key derived from the period's (here: no) draws
    version.seed, version.seed_source = team_key(PERIOD, []), "draws"
    busy = f.visit_with_tasks(
        s, other, [samr, colleague], day=dt.date(2026, 11, 20), state="scheduled"
    )
    busy.start, busy.end = dt.time(9, 0), dt.time(17, 0)
    for link in busy.tasks:  # its task keeps them on site all day (interchange v2, rule 5)
        link.task.minutes = 480
    old = busy.schedule
    busy.schedule_id = version.id
    s.flush()
    s.delete(old)
    s.add(InspectorUnavailability(inspector_id=fire.id, day=dt.date(2026, 11, 19), reason="培训"))
    s.flush()
    s.expire_all()
    return {
        "firm": firm,
        "visit": s.get(Visit, visit.id),
        "busy": s.get(Visit, busy.id),
        "fire": fire,
    }


def days(session, visit, today=TODAY):
    return reschedule.feasible_days(
        session, visit, today=today, policy=f.policy(), calendar=f.calendar()
    )


def test_feasible_days_leave_out_what_the_verifier_refuses(db_session, scene):
    found = {d.day: d for d in days(db_session, scene["visit"])}
    # Two workdays ahead at the earliest (Tue 17th); the visit's own day is not offered;
    # the fire officer's day of training (19th) and the SAMR officer's full day elsewhere
    # (20th) are refused by the verifier; the following Monday is fine.
    assert min(found) == dt.date(2026, 11, 17)
    assert DAY not in found
    assert dt.date(2026, 11, 19) not in found
    assert dt.date(2026, 11, 20) not in found
    assert found[dt.date(2026, 11, 23)].start == dt.time(9, 30)
    assert all(f.calendar().is_workday(d) for d in found)
    # The window of the tasks (day ± 30 days) bounds the offer.
    assert max(found) <= DAY + dt.timedelta(days=30)


def test_unannounced_visits_offer_nothing(db_session, scene):
    visit = scene["visit"]
    visit.announced = False
    why = reschedule.why_no_request(
        db_session, visit, today=TODAY, policy=f.policy(), calendar=f.calendar()
    )
    assert why and "双随机" in why


def test_too_late_to_ask(db_session, scene):
    visit = scene["visit"]
    # Tuesday 17th is one workday before: past the 2-workday limit.
    why = reschedule.why_no_request(
        db_session, visit, today=dt.date(2026, 11, 17), policy=f.policy(), calendar=f.calendar()
    )
    assert why and "2 个工作日" in why
    assert (
        reschedule.why_no_request(
            db_session, visit, today=dt.date(2026, 11, 16), policy=f.policy(), calendar=f.calendar()
        )
        is None
    )


def submit(session, scene, to_day, today=TODAY):
    return reschedule.submit_request(
        db_session=session,
        visit_id=scene["visit"].id,
        to_day=to_day,
        reason="当天接待上级检查",
        actor=firm_actor(scene["firm"]),
        today=today,
        policy=f.policy(),
        calendar=f.calendar(),
    )


def test_once_and_only_to_a_feasible_day(db_session, scene):
    with pytest.raises(CheckOnceError, match="不是这次检查可改到的日期"):
        submit(db_session, scene, dt.date(2026, 11, 19))
    request = submit(db_session, scene, dt.date(2026, 11, 23))
    assert request.state == RequestState.PENDING and request.from_day == DAY
    with pytest.raises(CheckOnceError, match="只能申请改期一次"):
        submit(db_session, scene, dt.date(2026, 11, 24))


def test_another_enterprise_cannot_ask(db_session, scene):
    stranger = f.enterprise(db_session)
    with pytest.raises(CheckOnceError, match="不存在"):
        reschedule.submit_request(
            db_session=db_session,
            visit_id=scene["visit"].id,
            to_day=dt.date(2026, 11, 23),
            reason="",
            actor=firm_actor(stranger),
            today=TODAY,
            policy=f.policy(),
            calendar=f.calendar(),
        )


def test_replan_moves_only_the_requested_visit_and_verifies(db_session, scene):
    submit(db_session, scene, dt.date(2026, 11, 23))
    base_id = scene["visit"].schedule_id
    version = reschedule.replan_with_requests(
        db_session=db_session,
        period=PERIOD,
        actor=COORDINATOR,
        today=TODAY,
        policy=f.policy(),
        calendar=f.calendar(),
    )
    assert version.violations == 0, version.verifier_report["violations"]
    assert version.based_on_id == base_id and version.metrics["moved_on_request"] == 1
    new = {v.code: v for v in version.visits}
    assert new[scene["visit"].code].day == dt.date(2026, 11, 23)
    busy = new[scene["busy"].code]
    assert (busy.day, busy.start, busy.end) == (
        dt.date(2026, 11, 20),
        dt.time(9, 0),
        dt.time(17, 0),
    )
    request = reschedule.list_requests(db_session, period=PERIOD)[0]
    assert request.state == RequestState.PLANNED and request.schedule_id == version.id
    # Verified again from the database, independently of the run that stored it.
    assert reschedule.verify_version(
        db_session, version, policy=f.policy(), calendar=f.calendar()
    ).ok
    publish_schedule(db_session=db_session, schedule_id=version.id, actor=COORDINATOR)
    assert db_session.get(ScheduleVersion, base_id).state == "superseded"


def test_a_request_no_longer_feasible_lapses(db_session, scene):
    submit(db_session, scene, dt.date(2026, 11, 23))
    db_session.add(
        InspectorUnavailability(
            inspector_id=scene["fire"].id, day=dt.date(2026, 11, 23), reason="病假"
        )
    )
    db_session.flush()
    db_session.expire_all()  # as a new request's session would read it
    with pytest.raises(CheckOnceError, match="没有仍然可行"):
        reschedule.replan_with_requests(
            db_session=db_session,
            period=PERIOD,
            actor=COORDINATOR,
            today=TODAY,
            policy=f.policy(),
            calendar=f.calendar(),
        )
    request = reschedule.list_requests(db_session, period=PERIOD)[0]
    assert request.state == RequestState.LAPSED and "不再可行" in request.note
    assert (
        db_session.scalar(
            select(ScheduleVersion).where(
                ScheduleVersion.period == PERIOD, ScheduleVersion.state == "draft"
            )
        )
        is None
    )


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(off=st.sets(st.integers(min_value=0, max_value=14), max_size=5))
def test_offered_days_are_exactly_those_the_verifier_allows(db_session, scene, off):
    """With the team's days off drawn at random, the offer is exactly: workdays of the
    tasks' window from two workdays ahead, less the visit's own day, the officer's full day
    elsewhere (20th) and every day a team member is off."""
    cal = f.calendar()
    fire = scene["fire"]
    window = [d for d in cal.workdays(dt.date(2026, 11, 17), dt.date(2026, 12, 8))]
    days_off = {window[i] for i in off if i < len(window)}
    added = [
        InspectorUnavailability(inspector_id=fire.id, day=d, reason="假")
        for d in days_off
        if d != dt.date(2026, 11, 19)
    ]
    db_session.add_all(added)
    db_session.flush()
    db_session.expire_all()
    try:
        offered = {d.day for d in days(db_session, db_session.get(Visit, scene["visit"].id))}
        expected = set(window) - {DAY, dt.date(2026, 11, 19), dt.date(2026, 11, 20)} - days_off
        assert expected <= offered
        assert not (offered & (days_off | {DAY, dt.date(2026, 11, 19), dt.date(2026, 11, 20)}))
    finally:
        for row in added:
            db_session.delete(row)
        db_session.flush()
        db_session.expire_all()


def test_schedule_generate_replan_requests_on_the_command_line(tmp_path):
    """`checkonce schedule generate --replan --requests` as a logged-in coordinator: the
    request is honoured in a new draft, recorded as that account on the CLI; a bureau's
    login is refused, and --requests alone is a clear error."""
    import os
    import subprocess
    import sys

    from checkonce.audit.models import AuditRecord
    from checkonce.config import packaged_data_dir
    from checkonce.db import make_engine, session_scope
    from checkonce.migrations import upgrade
    from checkonce.registry.reference import load_reference
    from tests.cli_accounts import cli_env, make_account

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        load_reference(session, packaged_data_dir())
        scene = build_scene(session)
        submit(session, scene, dt.date(2026, 11, 23))
    engine.dispose()
    make_account(url, "coord", "coordinator")
    make_account(url, "samr", "bureau", department="SAMR")

    def run(*args, user):
        env = {
            **{k: v for k, v in os.environ.items() if k != "CHECKONCE_TOKEN"},
            **cli_env(tmp_path, url, user),
            "COLUMNS": "200",
        }
        return subprocess.run(
            [sys.executable, "-m", "checkonce", "schedule", "generate", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    args = ["--period", PERIOD, "--today", TODAY.isoformat()]
    alone = run(*args, "--requests", user="coord")
    assert alone.returncode == 1 and "--requests 须与 --replan 同用" in alone.stderr
    refused = run(*args, "--replan", "--requests", user="samr")
    assert refused.returncode == 1 and "无权按企业改期申请重排" in refused.stderr
    done = run(*args, "--replan", "--requests", user="coord")
    assert done.returncode == 0, done.stderr
    assert "按申请改期 1 次" in done.stdout and "独立校验通过" in done.stdout
    engine = make_engine(url)
    with session_scope(engine) as session:
        rows = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "schedule.reschedule_replan")
        ).all()
        assert [(r.actor_username, r.actor_role, r.channel) for r in rows] == [
            ("coord", "coordinator", "cli")
        ]
        draft = session.scalars(
            select(ScheduleVersion).where(ScheduleVersion.state == "draft")
        ).one()
        moved = session.scalars(
            select(Visit).where(Visit.schedule_id == draft.id, Visit.code == scene_code(session))
        ).one()
        assert moved.day == dt.date(2026, 11, 23)
    engine.dispose()


def scene_code(session) -> str:
    from checkonce.documents.models import RescheduleRequest

    return session.scalars(select(RescheduleRequest.visit_code)).one()
