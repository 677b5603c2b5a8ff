"""Generating schedule versions from the database: stored whole, verifier-clean, seeded and
reproducible, with this year's history fed back into the next instance."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from checkonce.errors import CheckOnceError
from checkonce.plans.models import InspectionTask
from checkonce.scheduler.model import Instance
from checkonce.visits import service
from checkonce.visits.instance import build_instance
from checkonce.visits.models import ScheduleVersion, Visit
from tests import factories as f
from tests.visits.scenario import ACTOR, CALENDAR, POLICY, SEED, WEEKS, build, key_plan


def generate(session, **kwargs):
    kwargs.setdefault("seed", SEED)
    return service.generate_schedule(
        db_session=session,
        period="2027Q1",
        actor=ACTOR,
        time_limit=5,
        workers=1,
        policy=POLICY,
        calendar=CALENDAR,
        **kwargs,
    )


def test_generation_stores_a_clean_draft(db_session):
    s = db_session
    world = build(s)
    stages = []
    version = generate(s, progress=lambda stage, fraction: stages.append((stage, fraction)))

    assert version.state == "draft" and version.version == 1 and version.period == "2027Q1"
    assert version.seed == SEED and version.created_by == ACTOR.label
    assert version.violations == 0 and version.verifier_report["ok"] is True
    m = version.metrics
    # 6 tasks; firms 0 and 1 have SAMR + FIRE in the same week: merged into one visit each
    assert m["tasks"] == 6 and m["scheduled"] == 6 and m["unscheduled"] == 0
    assert m["visits"] == m["lb_visits"] == 4 and len(version.visits) == 4
    assert m["status_quo_visits"] == 6 and m["seed"] == SEED
    assert version.unscheduled == []

    task_ids = {t.id for t in world.tasks}
    placed = [vt.inspection_task_id for v in version.visits for vt in v.tasks]
    assert sorted(placed) == sorted(task_ids)
    samr, fire = f.department(s, "SAMR"), f.department(s, "FIRE")
    for visit in version.visits:
        firm_index = [firm.id for firm in world.firms].index(visit.enterprise_id)
        lo, hi = WEEKS[firm_index]
        assert lo <= visit.day.isoformat() <= hi
        assert visit.state == "scheduled" and not visit.frozen
        assert visit.announced  # key supervision is announced
        members = [m.inspector for m in visit.team]
        assert [m.position for m in visit.team] == list(range(len(members)))
        depts = {t.task.department_id for t in visit.tasks}
        assert sum(p.department_id == samr.id for p in members) >= 2
        if fire.id in depts:
            assert sum(p.department_id == fire.id for p in members) >= 2
            # the lead is the department with the larger share of minutes
            assert visit.lead_department_id in depts
        assert visit.start < visit.end
    assert sum(v.travel_km for v in version.visits) == pytest.approx(m["travel_km"], abs=0.5)
    assert stages[0] == ("instance", 0.0) and stages[-1] == ("done", 1.0)
    assert [x for _, x in stages] == sorted(x for _, x in stages)


def test_same_seed_same_schedule_and_fresh_seed_recorded(db_session):
    s = db_session
    build(s)
    first = generate(s)
    second = generate(s)
    assert second.version == 2

    def shape(version):
        return [
            (v.code, v.day, v.start, v.enterprise_id, [m.inspector_id for m in v.team])
            for v in version.visits
        ]

    assert shape(first) == shape(second)
    fresh = generate(s, seed=None)
    assert len(fresh.seed) == 64 and int(fresh.seed, 16) >= 0 and fresh.seed != SEED
    assert fresh.metrics["seed"] == fresh.seed


@pytest.mark.parametrize("seed", ["xyz", "0" * 65, ""])
def test_bad_seed_is_refused(db_session, seed):
    build(db_session)
    with pytest.raises(CheckOnceError, match="种子"):
        generate(db_session, seed=seed)


def test_empty_period_is_refused(db_session):
    with pytest.raises(CheckOnceError, match="没有已批准的检查任务"):
        service.generate_schedule(
            db_session=db_session,
            period="2027Q3",
            actor=ACTOR,
            policy=POLICY,
            calendar=CALENDAR,
            time_limit=1,
        )


def test_history_of_a_published_version_feeds_the_next_period(db_session):
    s = db_session
    world = build(s)
    q1 = generate(s)
    service.publish_schedule(db_session=s, schedule_id=q1.id, actor=ACTOR)
    # Q2: the same firms again, for another SAMR item.
    f.plan(
        s,
        [
            {
                "kind": "key",
                "items": ["SAMR-SP-001"],
                "window": ["2027-04-06", "2027-04-30"],
                "enterprises": [firm.credit_code for firm in world.firms],
            }
        ],
        dept="SAMR",
        period="2027Q2",
        state="approved",
    )
    data = build_instance(
        db_session=s, period="2027Q2", calendar=CALENDAR, policy=POLICY, seed=SEED
    )
    by_code = {e["id"]: e for e in data["enterprises"]}
    visits = {v.enterprise_id: v for v in q1.visits}
    for i, firm in enumerate(world.firms):
        entry = by_code[firm.credit_code]
        visit = visits[firm.id]
        assert entry["visits_this_year"] == 1
        expected = {"SAMR": 1, "FIRE": 1} if i < 2 else {"SAMR": 1}
        assert entry["routine_this_year"] == expected
        assert entry["last_inspectors"] == [m.inspector.code for m in visit.team]
    # The verifier sees the history: a yearly cap of 1 makes every Q2 task a violation
    # if placed, so the solver must leave them all out with a reason.
    Instance.from_json(data)  # the history is valid interchange
    q2 = service.generate_schedule(
        db_session=s,
        period="2027Q2",
        actor=ACTOR,
        seed=SEED,
        time_limit=5,
        policy=POLICY.model_copy(
            update={"caps": POLICY.caps.model_copy(update={"max_visits_per_enterprise_year": 1})}
        ),
        calendar=CALENDAR,
    )
    assert q2.violations == 0
    assert q2.visits == [] and len(q2.unscheduled) == len(world.firms)
    assert all(u.reason for u in q2.unscheduled)


def test_history_ignores_drafts_the_same_period_and_missed_visits(db_session):
    s = db_session
    world = build(s)
    q1 = generate(s)
    service.publish_schedule(db_session=s, schedule_id=q1.id, actor=ACTOR)
    generate(s)  # a draft: never history
    # Re-generating Q1 itself: its own published visits are about to be replaced.
    data = build_instance(
        db_session=s, period="2027Q1", calendar=CALENDAR, policy=POLICY, seed=SEED
    )
    assert all(e["visits_this_year"] == 0 for e in data["enterprises"])
    key_plan(s, "SAMR", [("SAMR-SP-001", ("2027-04-06", "2027-04-30"), world.firms[:1])], "2027Q2")
    missed = s.scalars(
        select(Visit).where(Visit.schedule_id == q1.id, Visit.enterprise_id == world.firms[0].id)
    ).one()
    missed.state = "missed"
    s.flush()
    data = build_instance(
        db_session=s, period="2027Q2", calendar=CALENDAR, policy=POLICY, seed=SEED
    )
    (entry,) = data["enterprises"]
    assert entry["visits_this_year"] == 0 and entry["routine_this_year"] == {}
    assert entry["last_inspectors"] == []


def test_triggered_tasks_do_not_count_as_routine_history(db_session):
    s = db_session
    world = build(s)
    q1 = generate(s)
    service.publish_schedule(db_session=s, schedule_id=q1.id, actor=ACTOR)
    firm = world.firms[2]
    for task in s.scalars(select(InspectionTask).where(InspectionTask.enterprise_id == firm.id)):
        task.kind = "triggered"
    s.flush()
    key_plan(s, "SAMR", [("SAMR-SP-001", ("2027-04-06", "2027-04-30"), [firm])], "2027Q2")
    (entry,) = build_instance(
        db_session=s, period="2027Q2", calendar=CALENDAR, policy=POLICY, seed=SEED
    )["enterprises"]
    assert entry["visits_this_year"] == 0 and entry["routine_this_year"] == {}
    assert len(entry["last_inspectors"]) >= 2  # rotation still sees the last team


def test_versions_are_numbered_per_period(db_session):
    build(db_session)
    generate(db_session)
    generate(db_session)
    numbers = db_session.scalars(
        select(ScheduleVersion.version)
        .where(ScheduleVersion.period == "2027Q1")
        .order_by(ScheduleVersion.version)
    ).all()
    assert numbers == [1, 2]
