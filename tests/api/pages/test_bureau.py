"""A bureau's pages: its plans, the all-or-nothing upload with every bad row listed,
submitting, its tasks and visits, its results and anonymous rating aggregates — and never
another department's data."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from checkonce.findings.models import TaskResult, VisitRating
from checkonce.plans.models import Plan, PlanTask
from tests import factories as f
from tests.api.pages.conftest import csrf_of

HEADER = "任务类型,检查事项,开始日期,结束日期,企业信用代码\n"


def plan_count(db_session) -> tuple[int, int]:
    return (
        db_session.scalar(select(func.count()).select_from(Plan)),
        db_session.scalar(select(func.count()).select_from(PlanTask)),
    )


def upload(client, text: str, *, period="2027Q1", name="计划.csv", csrf=None):
    return client.post(
        "/bureau/upload",
        data={"csrf": csrf_of(client) if csrf is None else csrf, "period": period, "title": ""},
        files={"file": (name, text.encode("utf-8"), "text/csv")},
        follow_redirects=False,
    )


def key_plan(db_session, dept: str, state: str = "draft", title: str = ""):
    firm = f.enterprise(db_session)
    item = {"SAMR": "SAMR-SP-002", "FIRE": "FIRE-001"}[dept]
    plan = f.plan(
        db_session,
        [
            {
                "kind": "key",
                "items": [item],
                "window": ["2027-01-04", "2027-02-26"],
                "enterprises": [firm.credit_code],
            }
        ],
        dept=dept,
        state=state,
    )
    if title:
        plan.title = title
        db_session.flush()
    return plan


def test_home_lists_only_own_plans(login, users, db_session):
    own = key_plan(db_session, "SAMR", title="市场监管一季度计划")
    other = key_plan(db_session, "FIRE", state="submitted", title="消防一季度计划")
    client = login("bureau")
    page = client.get("/bureau").text
    assert "市场监管一季度计划" in page and f"/bureau/plans/{own.id}" in page
    assert "消防一季度计划" not in page and f"/bureau/plans/{other.id}" not in page
    assert client.get(f"/bureau/plans/{own.id}").status_code == 200
    foreign = client.get(f"/bureau/plans/{other.id}")
    assert foreign.status_code == 404 and "消防一季度计划" not in foreign.text
    refused = client.post(f"/bureau/plans/{other.id}/submit", data={"csrf": csrf_of(client)})
    assert refused.status_code == 404


def test_upload_with_a_bad_row_lists_it_and_creates_nothing(login, users, db_session):
    firm = f.enterprise(db_session)
    client = login("bureau")
    before = plan_count(db_session)
    text = (
        HEADER
        + f"重点,SAMR-SP-002,2027-01-04,2027-02-26,{firm.credit_code}\n"
        + f"重点,SAMR-XX-999,2027-01-04,2027-02-26,{firm.credit_code}\n"
    )
    response = upload(client, text)
    assert response.status_code == 422
    page = response.text
    assert "没有创建任何计划" in page
    assert "第 3 行" in page and "检查事项" in page
    assert "检查事项 SAMR-XX-999 不在任何部门的检查事项清单中" in page
    assert page.count('class="row-error"') == 1
    assert 'value="2027Q1"' in page  # the form keeps what was typed
    assert plan_count(db_session) == before


def test_upload_fixed_then_submit(login, users, db_session):
    firm = f.enterprise(db_session)
    client = login("bureau")
    text = HEADER + f"重点,SAMR-SP-002,2027-01-04,2027-02-26,{firm.credit_code}\n"
    response = upload(client, text)
    assert response.status_code == 303
    plan = db_session.scalars(select(Plan).order_by(Plan.id.desc())).first()
    assert response.headers["location"] == f"/bureau/plans/{plan.id}"
    assert plan.state == "draft" and plan.source == "计划.csv"
    assert plan.created_by == "department:samr1"
    page = client.get(f"/bureau/plans/{plan.id}").text
    assert "12 项规则全部通过" in page and "提交审核" in page
    seq = f.audit_seq(db_session)
    submitted = client.post(
        f"/bureau/plans/{plan.id}/submit", data={"csrf": csrf_of(client)}, follow_redirects=False
    )
    assert submitted.status_code == 303
    db_session.refresh(plan)
    assert plan.state == "submitted"
    # Recorded as the bureau's account, through the web page.
    [record] = f.audit_since(db_session, seq)
    assert record["action"] == "plan.submit" and record["channel"] == "web"
    assert record["actor"] == {
        "user_id": users["bureau"].id,
        "username": "samr1",
        "role": "bureau",
    }
    assert record["request_id"]
    again = client.post(f"/bureau/plans/{plan.id}/submit", data={"csrf": csrf_of(client)})
    assert again.status_code == 409 and "当前为“已提交”" in again.text


def test_upload_refuses_bad_input_without_writing(login, users, db_session):
    client = login("bureau")
    before = plan_count(db_session)
    good = HEADER + "重点,SAMR-SP-002,2027-01-04,2027-02-26,\n"
    cases = [
        (upload(client, good, period="2027Q5"), "无法识别：应为年份（如 2027）或季度"),
        (upload(client, good, name="plan.txt"), "不支持的文件类型 .txt"),
        (upload(client, "", name="empty.csv"), "文件 empty.csv 是空的"),
        (upload(client, HEADER), "文件中没有任何任务行"),
        (upload(client, good), "重点监管任务须列明企业信用代码"),
    ]
    for response, message in cases:
        assert response.status_code in (400, 422), response.text[:300]
        assert message in response.text, message
    no_file = client.post("/bureau/upload", data={"csrf": csrf_of(client), "period": "2027Q1"})
    assert no_file.status_code == 400 and "请选择要上传的计划文件" in no_file.text
    forged = upload(client, good, csrf="0" * 64)
    assert forged.status_code == 403
    assert plan_count(db_session) == before


def test_only_bureaus_upload(login, users, db_session):
    before = plan_count(db_session)
    for role in ("coordinator", "enterprise", "inspector"):
        client = login(role)
        response = upload(client, HEADER + "重点,SAMR-SP-002,2027-01-04,2027-02-26,\n")
        assert response.status_code == 403
    assert plan_count(db_session) == before


def joint_visit(db_session, users):
    """A visit to one firm holding a SAMR and a FIRE task, and another FIRE-only visit."""
    firm = f.enterprise(db_session, name="联合检查餐馆")
    other = f.enterprise(db_session, name="消防单独检查商场")
    day = dt.date(2027, 3, 3)
    team = [f.inspector(db_session, "SAMR"), f.inspector(db_session, "FIRE")]
    joint = f.visit_with_tasks(db_session, firm, team, day=day, items=("SAMR-SP-001", "FIRE-001"))
    alone = f.visit_with_tasks(db_session, other, team[1:], day=day, items=("FIRE-001",))
    return joint, alone


def test_tasks_show_their_visits_and_never_another_department(login, users, db_session):
    joint, alone = joint_visit(db_session, users)
    page = login("bureau").get("/bureau/tasks").text
    assert "联合检查餐馆" in page and joint.code in page and "2027-03-03" in page
    assert "市场监管、消防" in page or "消防、市场监管" in page
    assert "消防单独检查商场" not in page and alone.code not in page


def record(db_session, visit, *, published: bool):
    """A result of each task of `visit`."""
    rows = []
    for link in visit.tasks:
        row = TaskResult(
            visit_id=visit.id,
            inspection_task_id=link.inspection_task_id,
            revision=1,
            result="passed",
            visit_day=visit.day,
            publish_by=visit.day + dt.timedelta(days=28),
            inspector_id=visit.team[0].inspector_id,
            recorded_by="inspector:t",
            published_at=dt.datetime(2027, 3, 10, tzinfo=dt.UTC) if published else None,
            published_by="inspector:t" if published else None,
        )
        db_session.add(row)
        rows.append(row)
    db_session.flush()
    return rows


def test_results_only_of_own_department_and_ratings_only_as_aggregates(login, users, db_session):
    joint, alone = joint_visit(db_session, users)
    record(db_session, joint, published=True)
    record(db_session, alone, published=False)
    client = login("bureau")
    page = client.get("/bureau/results").text
    assert "联合检查餐馆" in page and "消防单独检查商场" not in page
    assert "已公开" in page
    assert "评价少于 3 条时不显示任何数字" in page

    # Three ratings of visits SAMR took part in: now an aggregate, never who rated.
    raters = []
    for score in (5, 4, 3):
        firm = f.enterprise(db_session, name=f"评价企业{score}")
        raters.append(firm)
        visit = f.visit_with_tasks(
            db_session, firm, [f.inspector(db_session)], day=dt.date(2027, 3, 4), state="completed"
        )
        db_session.add(
            VisitRating(visit_id=visit.id, enterprise_id=firm.id, score=score, comment="态度很好")
        )
    db_session.flush()
    page = client.get("/bureau/results").text
    assert "共 3 条评价，平均 4.00 分" in page
    assert "态度很好" not in page
    assert all(firm.name not in page for firm in raters)
