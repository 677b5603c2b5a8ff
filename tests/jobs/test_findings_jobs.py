"""The daily publicity watch (一公开): results past their publish-by date become one alert
per department; published results drop out; holidays are skipped."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from checkonce.findings import service
from checkonce.jobs.models import PublicityAlert
from checkonce.registry.models import Department
from tests import factories as f
from tests.findings.conftest import passed, tasks_of
from tests.jobs.conftest import CALENDAR, POLICY, at

D = dt.date


def visit_with_result(session, day: dt.date):
    """A checked-in SAMR visit on `day` with its result recorded (not yet published)."""
    team = [f.inspector(session, "SAMR"), f.inspector(session, "SAMR")]
    visit = f.visit_with_tasks(
        session, f.enterprise(session), team, day=day, items=("SAMR-SP-001",)
    )
    (task,) = tasks_of(session, visit)
    return service.record_result(
        db_session=session,
        visit_id=visit.id,
        inspection_task_id=task.id,
        inspector_id=team[0].id,
        actor=f.actor("inspector", inspector_id=team[0].id),
        data=passed(session, task),
        policy=POLICY,
        calendar=CALENDAR,
    )


def alerts(session) -> dict[str, PublicityAlert]:
    rows = session.execute(
        select(Department.code, PublicityAlert).join(
            Department, PublicityAlert.department_id == Department.id
        )
    ).all()
    return {code: alert for code, alert in rows}


def test_publicity_watch_raises_one_alert_per_department(db_session, run):
    s = db_session
    # Visits of 2026-02-13 are due by 2026-03-19 (20 workdays, the Spring Festival between).
    late = visit_with_result(s, D(2026, 2, 13))
    also_late = visit_with_result(s, D(2026, 2, 13))
    on_time = visit_with_result(s, D(2026, 3, 16))
    team = [f.inspector(s, "FIRE"), f.inspector(s, "FIRE")]
    silent = f.visit_with_tasks(s, f.enterprise(s), team, day=D(2026, 2, 13), items=("FIRE-001",))

    before = run("publicity_watch", at("2026-03-19T08:30"))
    assert before.status == "ok" and before.counts == {"overdue": 0, "departments": 0}
    assert alerts(s) == {}

    result = run("publicity_watch", at("2026-03-20T08:30"))
    assert result.status == "ok", result.error
    assert result.counts == {"overdue": 3, "departments": 2}
    found = alerts(s)
    assert set(found) == {"SAMR", "FIRE"}
    samr, fire = found["SAMR"], found["FIRE"]
    assert (samr.overdue, samr.unpublished, samr.unrecorded) == (2, 2, 0)
    assert {i["result_id"] for i in samr.items} == {late.id, also_late.id}
    assert on_time.id not in {i["result_id"] for i in samr.items}
    assert samr.oldest_due == D(2026, 3, 19) and samr.day == D(2026, 3, 20)
    assert (fire.overdue, fire.unrecorded) == (1, 1)
    assert fire.items[0]["visit_code"] == silent.code and fire.items[0]["days_overdue"] == 1

    # Published during the day, the watch run again: the day's alerts show what is left.
    service.publish_results(
        db_session=s, result_ids=[late.id, also_late.id], actor=f.coordinator("c")
    )
    again = run("publicity_watch", at("2026-03-20T12:00"))
    assert again.counts == {"overdue": 1, "departments": 1}
    assert set(alerts(s)) == {"FIRE"}


def test_publicity_watch_is_skipped_on_a_holiday(db_session, run):
    result = run("publicity_watch", at("2026-10-01T08:30"))
    assert result.status == "skipped" and "不是工作日" in result.reason
