"""Publicity (一公开): publish-by dates on the Chinese workday calendar, publishing (single
and batch, latest revisions only), the public list, the credit-disclosure CSV and overdue
results per department."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from checkonce.errors import CheckOnceError, Conflict, NotFound
from checkonce.findings import service
from checkonce.findings.service import ResultInput, publish_by, record_result
from tests import factories as f
from tests.findings.conftest import answers, passed, tasks_of

POLICY = f.policy()
CALENDAR = f.calendar()
D = dt.date


@pytest.mark.parametrize(
    ("visit_day", "expected", "why"),
    [
        # Spring Festival 2026: Feb 15–23 off, Sat Feb 14 and Sat Feb 28 are make-up workdays.
        (D(2026, 2, 13), D(2026, 3, 19), "the make-up Saturday counts, nine holiday days do not"),
        (D(2026, 2, 12), D(2026, 3, 18), "one workday earlier"),
        # A visit on the Friday before a make-up Saturday: that Saturday is workday 1.
        (D(2026, 2, 27), D(2026, 3, 26), "Sat Feb 28 (调休) is the first workday"),
        # An ordinary stretch: 20 weekdays.
        (D(2026, 11, 2), D(2026, 11, 30), "four plain weeks"),
    ],
)
def test_publish_by_on_the_workday_calendar(visit_day, expected, why):
    assert publish_by(CALENDAR, visit_day, POLICY) == expected, why


def test_plain_weekday_counting_would_be_wrong_across_the_festival():
    day, count = D(2026, 2, 13), 0
    while count < 20:
        day += dt.timedelta(days=1)
        count += day.weekday() < 5
    assert day == D(2026, 3, 13) != publish_by(CALENDAR, D(2026, 2, 13), POLICY)


def _visit_with_results(session, day, *, result="passed", items=("SAMR-SP-001",)):
    firm = f.enterprise(session)
    team = [f.inspector(session, "SAMR"), f.inspector(session, "SAMR")]
    if "FIRE-001" in items:
        team += [f.inspector(session, "FIRE"), f.inspector(session, "FIRE")]
    visit = f.visit_with_tasks(session, firm, team, day=day, items=items)
    rows = []
    for task in tasks_of(session, visit):
        who = next(p for p in team if p.department_id == task.department_id)
        data = passed(session, task)
        if result == "rectify":
            data = ResultInput(
                result="rectify",
                checklist=answers(session, task, "problem"),
                legal_basis="《食品安全法》第五十四条",
                rectify_by=day + dt.timedelta(days=10),
            )
        rows.append(
            record_result(
                db_session=session,
                visit_id=visit.id,
                inspection_task_id=task.id,
                inspector_id=who.id,
                actor=f.actor("inspector", inspector_id=who.id),
                data=data,
                policy=POLICY,
                calendar=CALENDAR,
            )
        )
    return firm, visit, rows


def test_publish_single_and_batch_all_or_nothing(db_session):
    _, _, (a,) = _visit_with_results(db_session, D(2026, 2, 13))
    _, _, (b, c) = _visit_with_results(
        db_session, D(2026, 2, 24), items=("SAMR-SP-001", "FIRE-001")
    )
    service.publish_results(db_session=db_session, result_ids=[a.id], actor=f.coordinator("c"))
    assert a.published_by == "coordinator:c"
    with pytest.raises(Conflict, match="已于"):
        service.publish_results(
            db_session=db_session, result_ids=[b.id, a.id], actor=f.coordinator("c")
        )
    assert b.published_at is None  # nothing of the failed batch
    with pytest.raises(NotFound):
        service.publish_results(
            db_session=db_session, result_ids=[b.id, 10**9], actor=f.coordinator("c")
        )
    published = service.publish_results(
        db_session=db_session, result_ids=[b.id, c.id], actor=f.coordinator("c")
    )
    assert {r.id for r in published} == {b.id, c.id}
    with pytest.raises(CheckOnceError):
        service.publish_results(db_session=db_session, result_ids=[], actor=f.coordinator("c"))


def test_public_list_shows_the_latest_published_revision(db_session):
    firm, visit, (first,) = _visit_with_results(db_session, D(2026, 3, 2))
    service.publish_results(db_session=db_session, result_ids=[first.id], actor=f.coordinator("c"))
    (task,) = tasks_of(db_session, visit)
    who = visit.team[0].inspector_id
    fixed = record_result(
        db_session=db_session,
        visit_id=visit.id,
        inspection_task_id=task.id,
        inspector_id=who,
        actor=f.actor("inspector", inspector_id=who),
        data=ResultInput(
            result="rectify",
            checklist=answers(db_session, task, "problem"),
            legal_basis="《食品安全法》第五十四条",
            rectify_by=D(2026, 3, 20),
            correction_reason="漏记问题",
        ),
        policy=POLICY,
        calendar=CALENDAR,
    )
    rows, total = service.public_results(db_session, period="2026Q1")
    assert total == 1 and rows[0].result_name == "合格"  # the correction is not public yet
    with pytest.raises(Conflict, match="旧版本"):
        service.publish_results(
            db_session=db_session, result_ids=[first.id], actor=f.coordinator("c")
        )
    service.publish_results(db_session=db_session, result_ids=[fixed.id], actor=f.coordinator("c"))
    rows, total = service.public_results(db_session, period="2026Q1")
    assert total == 1 and (rows[0].result_name, rows[0].revision) == ("责令整改", 2)
    assert rows[0].credit_code == firm.credit_code


def test_csv_has_the_credit_disclosure_columns(db_session):
    firm, _, rows = _visit_with_results(db_session, D(2026, 2, 13), result="rectify")
    _visit_with_results(db_session, D(2026, 4, 1))  # another quarter, published too
    service.publish_results(
        db_session=db_session, result_ids=[r.id for r in rows], actor=f.coordinator("c")
    )
    text = service.export_csv(db_session, period="2026Q1")
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[0] == [
        "统一社会信用代码",
        "企业名称",
        "检查事项",
        "检查部门",
        "检查日期",
        "检查结果",
    ]
    assert table[1:] == [
        [firm.credit_code, firm.name, table[1][2], "西安市市场监督管理局", "2026-02-13", "责令整改"]
    ]
    assert table[1][2]  # the item's name
    with pytest.raises(CheckOnceError, match="无法识别"):
        service.export_csv(db_session, period="2026Q5")


def test_overdue_results_per_department(db_session):
    _, _, (late,) = _visit_with_results(db_session, D(2026, 2, 13))  # due 2026-03-19
    _, _, (on_time,) = _visit_with_results(db_session, D(2026, 3, 16))
    firm = f.enterprise(db_session)
    team = [f.inspector(db_session, "FIRE"), f.inspector(db_session, "FIRE")]
    silent = f.visit_with_tasks(db_session, firm, team, day=D(2026, 2, 13), items=("FIRE-001",))
    assert (
        service.overdue_results(db_session, D(2026, 3, 19), calendar=CALENDAR, policy=POLICY) == []
    )
    overdue = service.overdue_results(db_session, D(2026, 3, 20), calendar=CALENDAR, policy=POLICY)
    grouped = service.overdue_by_department(overdue)
    assert set(grouped) == {"SAMR", "FIRE"}
    assert [(o.result_id, o.status, o.days_overdue) for o in grouped["SAMR"]] == [
        (late.id, "unpublished", 1)
    ]
    assert [(o.visit_id, o.status) for o in grouped["FIRE"]] == [(silent.id, "unrecorded")]
    service.publish_results(db_session=db_session, result_ids=[late.id], actor=f.coordinator("c"))
    left = service.overdue_results(db_session, D(2026, 3, 20), calendar=CALENDAR, policy=POLICY)
    assert [o.status for o in left] == ["unrecorded"]
    assert on_time.id not in {o.result_id for o in left}


def test_overdue_results_positional_call_for_the_watch_job(db_session):
    """The publicity-watch job calls overdue_results(db_session, today)."""
    assert service.overdue_results(db_session, D(2026, 1, 5)) == []
