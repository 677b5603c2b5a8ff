"""Publishing is atomic and one version per period is in force, enforced by the schema;
re-planning keeps what has happened or is imminent and moves only the rest."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.visits import service
from checkonce.visits.models import ScheduleVersion, Visit
from checkonce.visits.notice import visible_until
from tests.visits.scenario import ACTOR, CALENDAR, POLICY, SEED, build


def generate(session, **kwargs):
    kwargs.setdefault("seed", SEED)
    return service.generate_schedule(
        db_session=session,
        period="2027Q1",
        actor=ACTOR,
        time_limit=5,
        policy=POLICY,
        calendar=CALENDAR,
        **kwargs,
    )


def states(session) -> dict[int, str]:
    session.expire_all()
    return dict(
        session.execute(
            select(ScheduleVersion.version, ScheduleVersion.state).where(
                ScheduleVersion.period == "2027Q1"
            )
        ).all()
    )


def test_publish_supersedes_the_previous_version(db_session):
    s = db_session
    build(s)
    v1 = generate(s)
    published = service.publish_schedule(db_session=s, schedule_id=v1.id, actor=ACTOR)
    assert published.state == "published" and published.published_by == ACTOR.label
    assert published.published_at is not None
    v2 = generate(s)
    service.publish_schedule(db_session=s, schedule_id=v2.id, actor=ACTOR)
    assert states(s) == {1: "superseded", 2: "published"}
    assert service.published_schedule(db_session=s, period="2027Q1").id == v2.id


def test_a_failure_mid_publish_leaves_the_previous_version_in_force(db_session, monkeypatch):
    s = db_session
    build(s)
    v1 = generate(s)
    service.publish_schedule(db_session=s, schedule_id=v1.id, actor=ACTOR)
    v2 = generate(s)
    calls = []

    def broken(version, actor):
        # the old version has been superseded and flushed by now
        calls.append(s.scalar(select(ScheduleVersion.state).where(ScheduleVersion.id == v1.id)))
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "_mark_published", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        service.publish_schedule(db_session=s, schedule_id=v2.id, actor=ACTOR)
    assert calls == ["superseded"]  # the failure really struck mid-publish
    assert states(s) == {1: "published", 2: "draft"}
    monkeypatch.undo()
    service.publish_schedule(db_session=s, schedule_id=v2.id, actor=ACTOR)
    assert states(s) == {1: "superseded", 2: "published"}


def test_a_version_with_violations_cannot_be_published(db_session):
    s = db_session
    build(s)
    v1 = generate(s)
    v1.violations = 2
    s.flush()
    with pytest.raises(Conflict, match="2 处违反硬约束") as caught:
        service.publish_schedule(db_session=s, schedule_id=v1.id, actor=ACTOR)
    assert caught.value.code == "schedule_has_violations"
    assert states(s) == {1: "draft"}


def test_only_drafts_are_published(db_session):
    s = db_session
    build(s)
    v1 = generate(s)
    service.publish_schedule(db_session=s, schedule_id=v1.id, actor=ACTOR)
    with pytest.raises(Conflict, match="只有草稿可以发布"):
        service.publish_schedule(db_session=s, schedule_id=v1.id, actor=ACTOR)
    with pytest.raises(NotFound):
        service.publish_schedule(db_session=s, schedule_id=999_999, actor=ACTOR)


def test_the_database_keeps_one_published_version_per_period(db_session):
    s = db_session
    for version in (1, 2):
        s.add(
            ScheduleVersion(
                period="2027Q2", version=version, state="draft", seed="00", created_by=ACTOR.label
            )
        )
    s.flush()
    s.execute(
        ScheduleVersion.__table__.update()
        .where(ScheduleVersion.period == "2027Q2", ScheduleVersion.version == 1)
        .values(state="published")
    )
    with pytest.raises(IntegrityError), s.begin_nested():
        s.execute(
            ScheduleVersion.__table__.update()
            .where(ScheduleVersion.period == "2027Q2", ScheduleVersion.version == 2)
            .values(state="published")
        )
    # another period may have its own published version
    s.add(
        ScheduleVersion(
            period="2027Q3", version=1, state="published", seed="00", created_by=ACTOR.label
        )
    )
    s.flush()


def test_the_database_refuses_a_published_version_with_violations(db_session):
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(
            ScheduleVersion(
                period="2027Q4",
                version=1,
                state="published",
                seed="00",
                violations=1,
                created_by=ACTOR.label,
            )
        )
        db_session.flush()


# ---------------------------------------------------------------------------- re-planning


def horizon(today: dt.date, freeze: int) -> dt.date:
    """The last frozen day: `freeze` workdays ahead, or further when the enterprise may
    already see announced visits up to a later day (notice 3 workdays ahead)."""
    until = CALENDAR.add_workdays(today, freeze) if freeze else today
    return max(until, visible_until(CALENDAR, today, POLICY.notice.announce_workdays_ahead))


def published_v1(session, extra_firms=5):
    world = build(session, extra_firms=extra_firms)
    v1 = generate(session)
    service.publish_schedule(db_session=session, schedule_id=v1.id, actor=ACTOR)
    by_firm = {v.enterprise_id: v for v in v1.visits}
    return world, v1, [by_firm[firm.id] for firm in world.firms]


def test_replan_freezes_executed_and_imminent_visits_and_moves_the_rest(db_session):
    s = db_session
    world, v1, visits = published_v1(s)
    # firm 0 (week 1) was inspected; firm 4 (week 1 too) was missed; today is firm 1's day
    visits[0].state = "checked_in"
    today = visits[1].day
    s.flush()
    freeze = 2
    until = horizon(today, freeze)
    expected_frozen = {
        v.code
        for v in visits
        if v.state == "checked_in" or (v.state == "scheduled" and today <= v.day <= until)
    }
    assert visits[0].code in expected_frozen and visits[1].code in expected_frozen
    assert visits[4].code not in expected_frozen

    v2 = generate(s, replan=True, freeze_workdays=freeze, today=today, seed="ab" * 32)
    assert v2.based_on_id == v1.id and v2.version == 2 and v2.state == "draft"
    assert v2.violations == 0, v2.verifier_report["violations"]
    frozen = {v.code: v for v in v2.visits if v.frozen}
    assert set(frozen) == expected_frozen
    old = {v.code: v for v in visits}
    for code, visit in frozen.items():
        before = old[code]
        # copied unchanged: day, times, team in draw order, tasks, state
        assert (visit.day, visit.start, visit.end, visit.enterprise_id) == (
            before.day,
            before.start,
            before.end,
            before.enterprise_id,
        )
        assert [m.inspector_id for m in visit.team] == [m.inspector_id for m in before.team]
        assert {t.inspection_task_id for t in visit.tasks} == {
            t.inspection_task_id for t in before.tasks
        }
        assert visit.state == before.state
    moved = [v for v in v2.visits if not v.frozen]
    assert moved, "something must be re-planned"
    for visit in moved:
        assert visit.day > until  # never on or before the frozen horizon
        assert visit.code not in old  # fresh codes: a code never names two visits
    # firm 4's week has passed: its task is left out with the reason
    (left,) = v2.unscheduled
    assert left.inspection_task_id == visits[4].tasks[0].inspection_task_id
    assert "时间窗已过" in left.reason
    assert v2.metrics["frozen_visits"] == len(expected_frozen)
    assert v2.metrics["tasks"] == len(world.tasks)

    service.publish_schedule(db_session=s, schedule_id=v2.id, actor=ACTOR)
    assert states(s) == {1: "superseded", 2: "published"}


def test_replan_with_zero_freeze_keeps_executed_and_notified_visits(db_session):
    s = db_session
    _world, _v1, visits = published_v1(s, extra_firms=4)
    visits[0].state = "completed"
    s.flush()
    today = visits[1].day
    v2 = generate(s, replan=True, freeze_workdays=0, today=today)
    frozen = {v.code for v in v2.visits if v.frozen}
    # no workday of freeze, but announced visits already shown to the enterprise stay
    until = horizon(today, 0)
    assert until == visible_until(CALENDAR, today, 3) > today
    assert frozen == {visits[0].code} | {v.code for v in visits if today <= v.day <= until}
    assert v2.violations == 0


def test_a_plain_regeneration_cannot_drop_executed_visits(db_session):
    s = db_session
    _world, _v1, visits = published_v1(s, extra_firms=4)
    visits[0].state = "checked_in"
    s.flush()
    with pytest.raises(Conflict, match="--replan"):
        generate(s)


def test_publishing_a_stale_draft_that_would_lose_a_check_in_is_refused(db_session):
    s = db_session
    _world, _v1, visits = published_v1(s, extra_firms=4)
    v2 = generate(s)  # plain draft, made before anyone checked in
    visits[0].state = "checked_in"
    s.flush()
    with pytest.raises(Conflict, match="重排"):
        service.publish_schedule(db_session=s, schedule_id=v2.id, actor=ACTOR)
    assert states(s) == {1: "published", 2: "draft"}


def test_a_check_in_after_the_replan_is_carried_at_publish(db_session):
    s = db_session
    _world, _v1, visits = published_v1(s, extra_firms=4)
    today = visits[1].day
    v2 = generate(s, replan=True, freeze_workdays=0, today=today)
    copy = next(v for v in v2.visits if v.code == visits[1].code)
    assert copy.frozen and copy.state == "scheduled"
    visits[1].state = "checked_in"  # the team scans in while the draft waits
    s.flush()
    service.publish_schedule(db_session=s, schedule_id=v2.id, actor=ACTOR)
    s.refresh(copy)
    assert copy.state == "checked_in"


def test_replan_needs_a_published_version(db_session):
    build(db_session)
    with pytest.raises(CheckOnceError, match="没有已发布的排程"):
        generate(db_session, replan=True, today=dt.date(2027, 3, 10))


def test_replan_defaults_to_two_frozen_workdays(db_session):
    s = db_session
    _world, _v1, visits = published_v1(s, extra_firms=4)
    today = visits[1].day - dt.timedelta(days=2)
    until = horizon(today, service.DEFAULT_FREEZE_WORKDAYS)
    v2 = generate(s, replan=True, today=today)
    frozen = {v.code for v in v2.visits if v.frozen}
    assert frozen == {v.code for v in visits if today <= v.day <= until}
    assert all(v.day > until for v in v2.visits if not v.frozen)
    rows = s.scalars(select(Visit).where(Visit.schedule_id == v2.id)).all()
    assert len(rows) == len(v2.visits)
