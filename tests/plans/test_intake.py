"""Plan intake: JSON, CSV and Excel, all or nothing, every bad row reported in Chinese."""

from __future__ import annotations

import csv

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from checkonce.errors import CheckOnceError, ImportRejected
from checkonce.plans import service
from checkonce.plans.models import Plan, PlanEvent, PlanTask, PlanTaskEnterprise, PlanTaskItem
from checkonce.plans.periods import parse_period
from tests import factories as f

HEADER = [
    "任务类型",
    "检查事项",
    "开始日期",
    "结束日期",
    "行业",
    "B类比例",
    "C类数量",
    "企业信用代码",
    "专项名称",
    "审批人",
    "审批日期",
    "审批文号",
    "触发原因",
    "受理日期",
]


def counts(session) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model))
        for model in (Plan, PlanTask, PlanTaskItem, PlanTaskEnterprise, PlanEvent)
    }


def good_rows(code: str) -> list[list[str]]:
    return [
        [
            "双随机",
            "SAMR-SP-001",
            "2027-01-04",
            "2027-03-31",
            "restaurant",
            "0.1",
            "2",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "重点",
            "SAMR-SP-002；SAMR-SP-003",
            "2027/1/4",
            "2027/2/26",
            "",
            "",
            "",
            code,
            "",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            "专项",
            "SAMR-SP-001",
            "2027-03-01",
            "2027-03-31",
            "restaurant",
            "",
            "",
            "",
            "春季餐饮专项",
            "王局长",
            "2027-02-20",
            "市市监发〔2027〕8号",
            "",
            "",
        ],
        ["触发", "SAMR-SP-002", "", "", "", "", "", code, "", "", "", "", "投诉举报", "2027-01-06"],
    ]


def write_csv(path, rows):
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def write_xlsx(path, rows):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_parse_period():
    assert parse_period("2027").start.isoformat() == "2027-01-01"
    q = parse_period("2027q4")
    assert (q.code, q.start.isoformat(), q.end.isoformat()) == (
        "2027Q4",
        "2027-10-01",
        "2027-12-31",
    )
    assert parse_period("2027Q1").end.isoformat() == "2027-03-31"
    with pytest.raises(CheckOnceError, match="2027Q5"):
        parse_period("2027Q5")


def test_json_plan_is_created_as_draft_with_audit(db_session):
    firm = f.enterprise(db_session)
    plan = f.plan(
        db_session,
        [
            f.random_task(strata={"B": {"ratio": 0.1}}),
            {
                "kind": "key",
                "items": ["SAMR-SP-002"],
                "enterprises": [firm.credit_code],
                "window": ["2027-01-04", "2027-03-31"],
            },
            {
                "kind": "triggered",
                "item": "SAMR-SP-002",
                "enterprise": firm.credit_code,
                "reason": "complaint",
                "received_on": "2027-01-06",
            },
        ],
    )
    assert (plan.state, plan.version, plan.period, plan.year) == ("draft", 1, "2027Q1", 2027)
    random, key, triggered = plan.tasks
    assert random.strata == {"B": {"ratio": "0.1"}}
    assert random.scope["industries"] == ["restaurant"]
    assert key.enterprise_list == [firm]
    # policy: complaint due within 5 workdays; 2027-01-06 (Wed) + 5 workdays = 2027-01-13
    assert triggered.due_workdays == 5
    assert (triggered.window_start.isoformat(), triggered.window_end.isoformat()) == (
        "2027-01-06",
        "2027-01-13",
    )
    assert [(e.actor, e.from_state, e.to_state) for e in plan.events] == [
        ("department:测试员", None, "draft")
    ]
    # a second plan for the same bureau and period is the next version, the first is kept
    again = f.plan(db_session, [f.random_task()])
    assert again.version == 2 and plan.version == 1


def test_json_plan_reports_every_bad_task_and_writes_nothing(db_session):
    before = counts(db_session)
    data = {
        "department": "SAMR",
        "period": "2027Q1",
        "tasks": [
            f.random_task(),
            {"kind": "随便", "item": "SAMR-SP-001"},
            f.random_task(item="NOPE-001"),
            f.random_task(strata={"B": {"ratio": 1.5}}),
            {
                "kind": "key",
                "items": ["SAMR-SP-001"],
                "enterprises": ["91610113MA6U1234X0"],
                "window": ["2027-01-04", "2027-01-01"],
            },
            {
                "kind": "triggered",
                "item": "SAMR-SP-001",
                "enterprise": f.enterprise(db_session).credit_code,
                "reason": "gossip",
            },
        ],
    }
    before = counts(db_session)
    with pytest.raises(ImportRejected) as caught:
        service.create_plan(
            db_session=db_session,
            data=data,
            actor=f.bureau(db_session, "SAMR", "甲"),
            policy=f.policy(),
            calendar=f.calendar(),
        )
    rows = {(e.row, e.field) for e in caught.value.errors}
    assert (2, "任务类型") in rows
    assert (3, "检查事项") in rows
    assert (4, "B类比例") in rows
    assert (5, "企业信用代码") in rows and (5, "结束日期") in rows
    assert (6, "触发原因") in rows and (6, "受理日期") in rows
    assert 1 not in {e.row for e in caught.value.errors}
    assert "数据库未做任何修改" in caught.value.message
    assert counts(db_session) == before


def test_unknown_department_and_period_are_refused(db_session):
    with pytest.raises(ImportRejected) as caught:
        service.create_plan(
            db_session=db_session,
            data={"department": "XXX", "period": "2027Q9", "tasks": [f.random_task()]},
            actor=f.bureau(db_session, "SAMR", "甲"),
            policy=f.policy(),
            calendar=f.calendar(),
        )
    assert {e.field for e in caught.value.errors} == {"department", "period"}


@pytest.mark.parametrize("writer", [write_csv, write_xlsx], ids=["csv", "xlsx"])
def test_file_import_creates_all_tasks(db_session, tmp_path, writer):
    firm = f.enterprise(db_session)
    path = writer(
        tmp_path / ("plan" + (".csv" if writer is write_csv else ".xlsx")),
        good_rows(firm.credit_code),
    )
    plan = service.import_plan_file(
        db_session=db_session,
        path=path,
        department="SAMR",
        period="2027Q1",
        actor=f.bureau(db_session, "SAMR", "乙"),
        policy=f.policy(),
        calendar=f.calendar(),
    )
    kinds = [t.kind for t in plan.tasks]
    assert kinds == ["random", "key", "special", "triggered"]
    random, key, special, triggered = plan.tasks
    assert random.strata == {"B": {"ratio": "0.1"}, "C": {"count": 2}}
    assert [i.code for i in key.item_list] == ["SAMR-SP-002", "SAMR-SP-003"]
    assert key.window_start.isoformat() == "2027-01-04"
    assert special.approval_document == "市市监发〔2027〕8号"
    assert triggered.trigger_reason == "complaint" and triggered.source_row == 5
    assert plan.source == path.name


@pytest.mark.parametrize("writer", [write_csv, write_xlsx], ids=["csv", "xlsx"])
def test_file_import_with_broken_rows_changes_nothing(db_session, tmp_path, writer):
    firm = f.enterprise(db_session)
    rows = good_rows(firm.credit_code)
    rows[1][7] = firm.credit_code[:-1] + (
        "0" if firm.credit_code[-1] != "0" else "1"
    )  # bad check digit
    rows[2][10] = "2027-02-30"  # no such day
    rows[3][12] = "天气不好"  # unknown reason
    rows.append(
        [
            "双随机",
            "SAMR-SP-001；SAMR-SP-002",
            "2027-01-04",
            "2027-03-31",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
    )
    path = writer(tmp_path / ("bad" + (".csv" if writer is write_csv else ".xlsx")), rows)
    before = counts(db_session)
    with pytest.raises(ImportRejected) as caught:
        service.import_plan_file(
            db_session=db_session,
            path=path,
            department="SAMR",
            period="2027Q1",
            actor=f.bureau(db_session, "SAMR", "乙"),
            policy=f.policy(),
            calendar=f.calendar(),
        )
    found = {(e.row, e.field) for e in caught.value.errors}
    assert (3, "企业信用代码") in found
    assert (4, "审批日期") in found
    assert (5, "触发原因") in found
    assert (6, "检查事项") in found
    assert 2 not in {e.row for e in caught.value.errors}
    assert "校验位" in caught.value.message
    assert counts(db_session) == before


def test_file_with_unknown_column_is_refused(db_session, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("任务类型,检查事项,颜色\n双随机,SAMR-SP-001,红\n", encoding="utf-8")
    with pytest.raises(ImportRejected, match="颜色"):
        service.import_plan_file(
            db_session=db_session,
            path=path,
            department="SAMR",
            period="2027Q1",
            actor=f.bureau(db_session, "SAMR", "乙"),
        )
