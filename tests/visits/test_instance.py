"""From approved plans in the database to the scheduler's interchange instance, solved and
checked by the independent verifier."""

from __future__ import annotations

import datetime as dt

import pytest

from checkonce.calendar import WorkCalendar
from checkonce.config import packaged_data_dir
from checkonce.errors import CheckOnceError
from checkonce.plans.service import approve_plan, create_plan, submit_plan
from checkonce.policy import load_policy
from checkonce.registry.models import Conflict, InspectorUnavailability
from checkonce.scheduler.model import Instance
from checkonce.scheduler.solve import solve
from checkonce.scheduler.verify import verify
from checkonce.visits.instance import build_instance, parse_period
from tests import factories as f

POLICY = load_policy(packaged_data_dir() / "policy.toml")
CALENDAR = WorkCalendar(packaged_data_dir() / "calendar")


def approved_key_plan(session, dept: str, item: str, firms, window=("2026-03-02", "2026-03-31")):
    plan = create_plan(
        db_session=session,
        actor=f.bureau(session, dept, "测试科"),
        policy=POLICY,
        calendar=CALENDAR,
        data={
            "department": dept,
            "period": "2026Q1",
            "tasks": [
                {
                    "kind": "key",
                    "items": [item],
                    "window": list(window),
                    "enterprises": [firm.credit_code for firm in firms],
                }
            ],
        },
    )
    submit_plan(
        db_session=session,
        plan_id=plan.id,
        actor=f.bureau(session, dept, "测试科"),
        policy=POLICY,
        calendar=CALENDAR,
    )
    approve_plan(
        db_session=session,
        plan_id=plan.id,
        actor=f.coordinator("王协调"),
        policy=POLICY,
        calendar=CALENDAR,
    )
    return plan


@pytest.mark.parametrize(
    "period, start, end",
    [
        ("2027", "2027-01-01", "2027-12-31"),
        ("2027Q1", "2027-01-01", "2027-03-31"),
        ("2026Q4", "2026-10-01", "2026-12-31"),
        ("2027-02", "2027-02-01", "2027-02-28"),
    ],
)
def test_parse_period(period, start, end):
    assert parse_period(period) == (dt.date.fromisoformat(start), dt.date.fromisoformat(end))


@pytest.mark.parametrize("bad", ["2027Q5", "27Q1", "2027-13", "明年"])
def test_bad_period_is_refused(bad):
    with pytest.raises(CheckOnceError, match="无法识别的期间"):
        parse_period(bad)


def test_instance_from_approved_plans_solves_clean(db_session):
    s = db_session
    firms = [f.enterprise(s, industry_code="restaurant") for _ in range(3)]
    samr = [f.inspector(s, "SAMR") for _ in range(3)]
    fire = [f.inspector(s, "FIRE") for _ in range(2)]
    f.inspector(
        s,
        "FIRE",
        role="grid",
        certificate_no=None,
        certificate_valid_from=None,
        certificate_valid_to=None,
    )
    s.add(
        Conflict(
            inspector_id=samr[0].id,
            enterprise_id=firms[0].id,
            reason="亲属",
            declared_on=dt.date(2026, 1, 5),
        )
    )
    s.add(InspectorUnavailability(inspector_id=samr[1].id, day=dt.date(2026, 3, 3)))
    s.flush()
    approved_key_plan(s, "SAMR", "SAMR-SP-001", firms)
    approved_key_plan(s, "FIRE", "FIRE-001", firms[:2], window=("2026-03-10", "2026-03-20"))

    data = build_instance(
        db_session=s, period="2026Q1", calendar=CALENDAR, policy=POLICY, seed="ab" * 32
    )
    assert data["schema"] == "checkonce.instance/1"
    assert len(data["tasks"]) == 5
    assert {t["department"] for t in data["tasks"]} == {"SAMR", "FIRE"}
    assert {e["id"] for e in data["enterprises"]} == {firm.credit_code for firm in firms}
    # grid workers are never offered to the scheduler
    assert {i["id"] for i in data["inspectors"]} == {p.code for p in samr + fire}
    assert data["conflicts"] == [{"inspector": samr[0].code, "enterprise": firms[0].credit_code}]
    by_code = {i["id"]: i for i in data["inspectors"]}
    assert by_code[samr[1].code]["unavailable"] == ["2026-03-03"]
    assert "2026-02-17" not in data["workdays"] and "2026-02-14" in data["workdays"]
    assert data["policy"]["max_visits_per_enterprise_year"] == 4

    instance = Instance.from_json(data)
    schedule = solve(instance, seed=data["seed"], time_limit=10, workers=1)
    report = verify(instance, schedule)
    assert report.violations == []
    assert report.metrics["scheduled"] == 5
    # two departments on the same two restaurants in overlapping windows: merged, 3 visits
    assert report.metrics["visits"] == report.metrics["lb_visits"] == 3


def test_empty_period_gives_an_empty_instance(db_session):
    data = build_instance(
        db_session=db_session, period="2026Q3", calendar=CALENDAR, policy=POLICY, seed="00" * 32
    )
    assert data["tasks"] == [] and data["enterprises"] == [] and data["inspectors"] == []
