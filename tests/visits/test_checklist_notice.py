"""The merged checklist (一表通查) and the notice rules (检查告知)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from checkonce.plans.models import InspectionTask
from checkonce.registry.models import CheckItem
from checkonce.visits import service
from checkonce.visits.checklist import checklist_counts, merged_checklist
from checkonce.visits.notice import notice_date, visible_to_enterprise, visit_is_announced
from tests import factories as f
from tests.visits.scenario import ACTOR, CALENDAR, POLICY, key_plan

D = dt.date.fromisoformat


def item_keys(session, code: str) -> list[str]:
    item = session.scalars(select(CheckItem).where(CheckItem.code == code)).one()
    return [line.key for line in item.checklist]


def test_merged_checklist_lists_shared_entries_once(db_session):
    s = db_session
    firm = f.enterprise(s)
    for dept in ("SAMR", "SAMR", "HEALTH", "HEALTH"):
        f.inspector(s, dept)
    week = ("2027-03-08", "2027-03-12")
    key_plan(s, "SAMR", [("SAMR-SP-001", week, [firm])])
    key_plan(s, "HEALTH", [("HEALTH-001", week, [firm])])
    version = service.generate_schedule(
        db_session=s,
        period="2027Q1",
        actor=ACTOR,
        time_limit=5,
        policy=POLICY,
        calendar=CALENDAR,
    )
    (visit,) = version.visits  # one joint visit
    tasks = service.visit_tasks(s, visit)
    groups = merged_checklist(tasks, lead_department=visit.lead_department.code)

    samr_keys, health_keys = item_keys(s, "SAMR-SP-001"), item_keys(s, "HEALTH-001")
    shared = set(samr_keys) & set(health_keys)
    assert shared == {"license.display", "staff.health_cert"}
    keys = [e.key for g in groups for e in g.entries]
    assert len(keys) == len(set(keys))  # every check once
    assert set(keys) == set(samr_keys) | set(health_keys)
    assert groups[0].department is None and {e.key for e in groups[0].entries} == shared
    for entry in groups[0].entries:
        assert set(entry.departments) == {"SAMR", "HEALTH"}
        assert set(entry.items) == {"SAMR-SP-001", "HEALTH-001"}
    own = {g.department: {e.key for e in g.entries} for g in groups[1:]}
    assert own == {
        "SAMR": set(samr_keys) - shared,
        "HEALTH": set(health_keys) - shared,
    }
    # the lead department's own block comes right after the shared checks
    assert groups[1].department == visit.lead_department.code
    merged, asked = checklist_counts(groups)
    assert (merged, asked) == (len(set(keys)), len(samr_keys) + len(health_keys))


def test_one_department_visit_has_no_shared_block(db_session):
    s = db_session
    firm = f.enterprise(s)
    f.inspector(s, "SAMR"), f.inspector(s, "SAMR")
    key_plan(s, "SAMR", [("SAMR-SP-001", ("2027-03-08", "2027-03-12"), [firm])])
    tasks = s.scalars(select(InspectionTask).where(InspectionTask.enterprise_id == firm.id)).all()
    groups = merged_checklist(tasks, lead_department="SAMR")
    assert [g.department for g in groups] == ["SAMR"]
    assert [e.key for e in groups[0].entries] == item_keys(s, "SAMR-SP-001")


@pytest.mark.parametrize(
    "day, expected",
    [
        ("2027-03-11", "2027-03-08"),  # Thursday → Monday of the same week
        ("2027-03-09", "2027-03-04"),  # Tuesday → the Thursday before, across the weekend
        ("2027-03-08", "2027-03-03"),  # Monday → the Wednesday before
        ("2027-04-08", "2027-04-02"),  # Thursday after 清明 (Monday 2027-04-05 is a holiday)
        ("2027-04-06", "2027-03-31"),  # Tuesday after 清明 → back over weekend and holiday
        ("2027-02-10", "2027-02-03"),  # after 春节 (02-05 to 02-08)
    ],
)
def test_notice_date_counts_three_workdays(day, expected):
    assert notice_date(CALENDAR, D(day), 3) == D(expected)
    before = D(day) - dt.timedelta(days=1)
    # from the notice date the enterprise has three workdays before the visit day; a day
    # later it would have fewer
    assert len(CALENDAR.workdays(D(expected), before)) == 3
    assert len(CALENDAR.workdays(D(expected) + dt.timedelta(days=1), before)) < 3


def test_notice_zero_days_means_the_day_itself():
    assert notice_date(CALENDAR, D("2027-03-11"), 0) == D("2027-03-11")


@pytest.mark.parametrize(
    "announced, state, today, visible",
    [
        (True, "scheduled", "2027-04-01", False),  # not yet: notices go out 3 workdays ahead
        (True, "scheduled", "2027-04-02", True),  # Friday before 清明: the notice day
        (True, "scheduled", "2027-04-04", True),
        (True, "scheduled", "2027-04-08", True),  # the day itself
        (True, "scheduled", "2027-04-20", True),  # afterwards
        (False, "scheduled", "2027-04-02", False),  # unannounced: not before check-in
        (False, "scheduled", "2027-04-08", False),
        (False, "missed", "2027-04-20", False),
        (False, "checked_in", "2027-04-08", True),  # once the team is inside
        (False, "completed", "2027-04-20", True),
    ],
)
def test_visibility_to_the_enterprise(announced, state, today, visible):
    assert (
        visible_to_enterprise(
            announced=announced,
            state=state,
            day=D("2027-04-08"),
            today=D(today),
            calendar=CALENDAR,
            workdays_ahead=POLICY.notice.announce_workdays_ahead,
        )
        is visible
    )


def test_a_visit_is_announced_only_if_all_its_tasks_are():
    assert visit_is_announced([True, True])
    assert not visit_is_announced([True, False])
    assert not visit_is_announced([])


def test_an_unannounced_task_makes_the_joint_visit_unannounced(db_session):
    s = db_session
    firm = f.enterprise(s)
    for dept in ("SAMR", "SAMR", "FIRE", "FIRE"):
        f.inspector(s, dept)
    week = ("2027-03-08", "2027-03-12")
    key_plan(s, "SAMR", [("SAMR-SP-001", week, [firm])])
    key_plan(s, "FIRE", [("FIRE-001", week, [firm])])
    fire_task = s.scalars(
        select(InspectionTask).where(
            InspectionTask.enterprise_id == firm.id,
            InspectionTask.department_id == f.department(s, "FIRE").id,
        )
    ).one()
    fire_task.announced = False
    s.flush()
    version = service.generate_schedule(
        db_session=s,
        period="2027Q1",
        actor=ACTOR,
        time_limit=5,
        policy=POLICY,
        calendar=CALENDAR,
    )
    (visit,) = version.visits
    assert len(visit.tasks) == 2 and visit.announced is False
