"""The enterprise's pages: only its own announced visits with the merged checklist, its history
with published results and the anonymous rating, checking an inspection code, reporting an
unregistered inspection (seen by coordinators), its own QR poster."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from checkonce.api.routers.schedules import today as today_dependency
from checkonce.findings.models import VisitRating
from checkonce.findings.service import publish_results, record_result
from checkonce.registry.models import Enterprise
from checkonce.visits.inspection_codes import issue_inspection_code
from checkonce.visits.models import EnterpriseReport, ScheduleVersion
from checkonce.visits.reports import count_reports
from tests import factories as f
from tests.api.conftest import SECRET
from tests.api.pages.conftest import csrf_of
from tests.findings.conftest import passed, tasks_of

# A Monday; the notice rule shows announced visits 3 workdays ahead (to Thursday).
TODAY = dt.date(2027, 3, 1)
JOINT = ("SAMR-SP-001", "FIRE-001")


@pytest.fixture
def today(app):
    app.dependency_overrides[today_dependency] = lambda: TODAY
    yield TODAY
    app.dependency_overrides.pop(today_dependency, None)


@pytest.fixture
def firm(db_session, users):
    return db_session.get(Enterprise, users["enterprise"].enterprise_id)


@pytest.fixture
def team(db_session):
    return [f.inspector(db_session, "SAMR"), f.inspector(db_session, "FIRE")]


def visit(db_session, firm, team, *, day, announced=True, state="scheduled", items=JOINT):
    row = f.visit_with_tasks(db_session, firm, team, day=day, items=items, state=state)
    row.announced = announced
    db_session.flush()
    return row


def ratings_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(VisitRating))


def reports_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(EnterpriseReport))


# ------------------------------------------------------------------------------ upcoming


def test_upcoming_shows_only_announced_visits_in_the_notice_period(
    login, db_session, firm, team, today
):
    shown = visit(db_session, firm, team, day=TODAY + dt.timedelta(days=3))  # Thursday
    unannounced = visit(db_session, firm, team, day=TODAY + dt.timedelta(days=1), announced=False)
    too_early = visit(db_session, firm, team, day=TODAY + dt.timedelta(days=10))
    past = visit(db_session, firm, team, day=TODAY - dt.timedelta(days=7))
    other = visit(db_session, f.enterprise(db_session), team, day=TODAY + dt.timedelta(days=2))
    draft = visit(db_session, firm, team, day=TODAY + dt.timedelta(days=2))
    db_session.get(ScheduleVersion, draft.schedule_id).state = "draft"
    db_session.flush()

    page = login("enterprise").get("/enterprise")
    assert page.status_code == 200, page.text
    text = page.text
    assert f'id="visit-{shown.id}"' in text and shown.code in text
    for hidden in (unannounced, too_early, past, other, draft):
        assert f'id="visit-{hidden.id}"' not in text, hidden.code
    # The joint visit names both departments, its tasks' legal basis and the merged checklist.
    assert "市场监督管理局" in text and "消防救援" in text
    for task in tasks_of(db_session, shown):
        assert task.item.name in text and task.item.legal_basis in text
        for line in task.item.checklist:
            assert line.text in text
    assert "一表通查" in text
    # The team is not named before it has entered.
    for person in team:
        assert person.name not in text


def test_upcoming_when_nothing_is_announced(login, today):
    page = login("enterprise").get("/enterprise")
    assert page.status_code == 200 and "近期没有已告知的检查" in page.text
    assert "至少提前 3 个工作日" in page.text  # the policy's notice period (data/policy.toml)


def test_enterprise_pages_are_for_enterprises_only(login):
    for path in ("/enterprise", "/enterprise/history", "/enterprise/verify", "/enterprise/report"):
        for role in ("admin", "coordinator", "bureau", "inspector"):
            answer = login(role).get(path)
            assert answer.status_code == 403 and "无权打开此页面" in answer.text, (path, role)
        anonymous = login(None).get(path, follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_english_upcoming_page(login, db_session, firm, team, today):
    visit(db_session, firm, team, day=TODAY + dt.timedelta(days=1))
    page = login("enterprise").get("/enterprise?lang=en")
    assert "Upcoming visits" in page.text and "One sheet for all checks" in page.text
    assert "即将到来的检查" not in page.text


# ------------------------------------------------------------------------------- history


def completed_visit(db_session, firm, team, *, day=dt.date(2026, 11, 18), publish=True):
    """A joint visit with both results recorded (so completed); the SAMR one published."""
    row = visit(db_session, firm, team, day=day, state="checked_in")
    food, fire = tasks_of(db_session, row)
    results = []
    for task, person in ((food, team[0]), (fire, team[1])):
        results.append(
            record_result(
                db_session=db_session,
                visit_id=row.id,
                inspection_task_id=task.id,
                inspector_id=person.id,
                actor=f.actor("inspector", inspector_id=person.id),
                data=passed(db_session, task, notes="内部备注不公开"),
                policy=f.policy(),
                calendar=f.calendar(),
            )
        )
    if publish:
        publish_results(db_session=db_session, result_ids=[results[0].id], actor=f.coordinator("c"))
    db_session.refresh(row)
    assert row.state == "completed"
    return row, food, fire


def test_history_shows_published_results_only(login, db_session, firm, team, today):
    done, food, fire = completed_visit(db_session, firm, team)
    theirs, *_ = completed_visit(db_session, f.enterprise(db_session), team)
    page = login("enterprise").get("/enterprise/history")
    assert page.status_code == 200, page.text
    card = page.text.split(f'id="visit-{done.id}"')[1].split("</section>")[0]
    results = card.split("检查结果")[1]
    assert food.item.name in results and "合格" in results
    assert fire.item.name not in results.split("评价本次检查")[0]  # recorded, not published
    assert "内部备注不公开" not in page.text
    assert f'id="visit-{theirs.id}"' not in page.text
    assert f'action="/enterprise/history/{done.id}/rating"' in card


def test_rating_a_visit_is_stored_once_and_editable(login, db_session, firm, team, today):
    done, *_ = completed_visit(db_session, firm, team)
    client = login("enterprise")
    token = csrf_of(client)
    answer = client.post(
        f"/enterprise/history/{done.id}/rating",
        data={"csrf": token, "score": "4", "comment": "流程清楚，一次查完"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"].endswith(f"#visit-{done.id}")
    rating = db_session.scalars(select(VisitRating)).one()
    assert (rating.score, rating.comment, rating.enterprise_id) == (
        4,
        "流程清楚，一次查完",
        firm.id,
    )
    page = client.get(answer.headers["location"])
    assert "评价已提交" in page.text and "★★★★☆" in page.text
    # A second rating changes the same one.
    client.post(
        f"/enterprise/history/{done.id}/rating", data={"csrf": token, "score": "5", "comment": ""}
    )
    assert ratings_count(db_session) == 1
    db_session.refresh(rating)
    assert rating.score == 5


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"score": ""}, "请选择 1 至 5 分的评分"),
        ({"score": "9"}, "评分应为 1 至 5 的整数"),
        ({"score": "abc"}, "请选择 1 至 5 分的评分"),
        ({"score": "3", "comment": "长" * 1001}, "评价内容不能超过 1000 字"),
    ],
)
def test_bad_rating_is_refused_and_nothing_stored(
    login, db_session, firm, team, today, form, message
):
    done, *_ = completed_visit(db_session, firm, team)
    client = login("enterprise")
    answer = client.post(
        f"/enterprise/history/{done.id}/rating", data={"csrf": csrf_of(client), **form}
    )
    assert answer.status_code == 400
    assert message in answer.text and 'role="alert"' in answer.text
    assert ratings_count(db_session) == 0


def test_rating_needs_a_completed_own_visit_and_the_csrf_token(
    login, db_session, firm, team, today
):
    scheduled = visit(db_session, firm, team, day=TODAY + dt.timedelta(days=1))
    theirs, *_ = completed_visit(db_session, f.enterprise(db_session), team)
    client = login("enterprise")
    token = csrf_of(client)
    early = client.post(
        f"/enterprise/history/{scheduled.id}/rating", data={"csrf": token, "score": "5"}
    )
    assert early.status_code == 409 and "检查完成" in early.text
    stranger = client.post(
        f"/enterprise/history/{theirs.id}/rating", data={"csrf": token, "score": "1"}
    )
    assert stranger.status_code == 404
    done, *_ = completed_visit(db_session, firm, team)
    forged = client.post(f"/enterprise/history/{done.id}/rating", data={"score": "1"})
    assert forged.status_code == 403
    assert ratings_count(db_session) == 0


def test_bureau_never_sees_who_rated(login, client, headers, db_session, firm, team, today):
    done, *_ = completed_visit(db_session, firm, team)
    ratings_client = login("enterprise")
    ratings_client.post(
        f"/enterprise/history/{done.id}/rating",
        data={"csrf": csrf_of(ratings_client), "score": "2", "comment": "态度一般"},
    )
    assert ratings_count(db_session) == 1
    client.cookies.clear()
    assert client.get("/api/v1/ratings", headers=headers["bureau"]).status_code == 403
    summary = client.get("/api/v1/ratings/summary", headers=headers["bureau"])
    assert summary.status_code == 200, summary.text
    body = summary.text
    assert summary.json()["suppressed"] is True  # one rating alone is never shown
    assert firm.name not in body and firm.credit_code not in body and "态度一般" not in body


def test_history_is_paged(login, db_session, firm, team, today):
    made = [
        visit(
            db_session,
            firm,
            team,
            day=dt.date(2026, 10, 1) + dt.timedelta(days=i),
            state="completed",
        )
        for i in range(12)
    ]
    client = login("enterprise")
    first = client.get("/enterprise/history")
    second = client.get("/enterprise/history?page=2")
    assert first.text.count('class="card visit"') == 10
    assert second.text.count('class="card visit"') == 2
    assert f'id="visit-{made[-1].id}"' in first.text  # newest first
    assert f'id="visit-{made[0].id}"' in second.text
    assert "第 1 / 2 页，共 12 条" in first.text
    assert client.get("/enterprise/history?page=0").status_code == 422


# -------------------------------------------------------------------------------- verify


def test_verify_leads_to_the_inspection_code_page(login, db_session, firm, team):
    client = login("enterprise")
    token = csrf_of(client)
    answer = client.post(
        "/enterprise/verify",
        data={"csrf": token, "code": " https://checkonce.example/v/V1.abcd.1.2.20270301.sig "},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/v/V1.abcd.1.2.20270301.sig"
    bare = client.post(
        "/enterprise/verify", data={"csrf": token, "code": "V1.x.y"}, follow_redirects=False
    )
    assert bare.headers["location"] == "/v/V1.x.y"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "请输入或粘贴执法人员出示的检查码"),
        ("https://checkonce.example/e/E1.abcd.91610113000000010X.sig", "这是企业码"),
        ("https://elsewhere.example/login", "二维码不是本系统的企业码或检查码"),
    ],
)
def test_verify_explains_a_wrong_code(login, code, message):
    client = login("enterprise")
    answer = client.post("/enterprise/verify", data={"csrf": csrf_of(client), "code": code})
    assert answer.status_code == 400 and message in answer.text
    assert "<textarea" in answer.text  # the form is there to try again


def test_inspection_code_page_on_the_layout(client, db_session, firm, team):
    from checkonce.visits.service import today_in

    day = today_in(f.policy())
    planned = visit(db_session, firm, team, day=day)
    token, _ = issue_inspection_code(
        db_session=db_session, secret_key=SECRET, visit_id=planned.id, inspector_id=team[0].id
    )
    page = client.get(f"/v/{token}")
    assert page.status_code == 200, page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    for text in (team[0].name, team[0].certificate_no, "已登记的检查", firm.name):
        assert text in page.text
    for task in tasks_of(db_session, planned):
        assert task.item.name in page.text and task.item.legal_basis in page.text
    assert "/static/app.css" in page.text  # the shared layout
    english = client.get(f"/v/{token}?lang=en")
    assert "Registered inspection" in english.text

    refused = client.get("/v/V1.abcd.1.2.20270301.sig?lang=zh")
    assert refused.status_code == 404
    assert "未登记的检查：您有权拒绝" in refused.text
    assert 'href="/enterprise/report?kind=unregistered_inspection"' in refused.text


# -------------------------------------------------------------------------------- report


def report_form(**overrides) -> dict:
    form = {
        "kind": "unregistered_inspection",
        "happened_on": TODAY.isoformat(),
        "happened_at": "10:30",
        "department_said": "区市场监管局",
        "people": "两人，未出示执法证",
        "description": "两人进店查看后厨，拒绝出示检查码，拍照后离开。",
        "contact": "13800000000",
    }
    form.update(overrides)
    return form


def test_report_is_stored_and_listed_for_coordinators(
    login, client, headers, db_session, firm, today
):
    page = login("enterprise").get("/enterprise/report")
    assert page.status_code == 200 and 'name="description"' in page.text
    answer = client.post(
        "/enterprise/report",
        data={"csrf": csrf_of(client), **report_form()},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    stored = db_session.scalars(select(EnterpriseReport)).one()
    assert (stored.enterprise_id, stored.kind, stored.happened_at) == (
        firm.id,
        "unregistered_inspection",
        dt.time(10, 30),
    )
    assert stored.reported_by == "enterprise:firm1"
    assert count_reports(db_session=db_session) == 1
    assert "已提交" in client.get(answer.headers["location"]).text
    assert f'id="report-{stored.id}"' in client.get("/enterprise/report").text

    client.cookies.clear()
    listed = client.get("/api/v1/enterprise-reports", headers=headers["coordinator"])
    assert listed.status_code == 200, listed.text
    item = listed.json()["items"][0]
    assert item["credit_code"] == firm.credit_code and item["kind_name"] == "未登记的检查"
    assert item["department_said"] == "区市场监管局"
    for role in ("bureau", "inspector", "enterprise", "anonymous"):
        refused = client.get("/api/v1/enterprise-reports", headers=headers[role])
        assert refused.status_code in (401, 403), role


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "gossip"}, "请选择反映的问题类型"),
        ({"happened_on": ""}, "请填写发生日期"),
        ({"happened_on": "2027-02-30"}, "发生日期格式不正确"),
        ({"happened_on": "2027-03-02"}, "发生日期不能晚于今天"),
        ({"happened_on": "2026-10-01"}, "只能反映 90 天内发生的事"),
        ({"happened_at": "25:00"}, "发生时间格式不正确"),
        ({"description": "来了人"}, "请写明经过"),
        ({"department_said": "", "people": ""}, "请至少填写来人自称的部门或来人情况"),
        ({"people": "人" * 201}, "「来人情况」不能超过 200 个字"),
        ({"description": "来人查看后厨并拍照\x07离开了"}, "含有不允许的控制字符"),
    ],
)
def test_bad_report_is_refused_and_nothing_stored(login, db_session, today, overrides, message):
    client = login("enterprise")
    answer = client.post(
        "/enterprise/report", data={"csrf": csrf_of(client), **report_form(**overrides)}
    )
    assert answer.status_code == 400
    assert message in answer.text
    # What was typed comes back in the form.
    assert "两人，未出示执法证" in answer.text or "people" in overrides
    assert reports_count(db_session) == 0


def test_other_problem_needs_no_department(login, db_session, today):
    client = login("enterprise")
    form = report_form(kind="other", department_said="", people="")
    answer = client.post("/enterprise/report", data={"csrf": csrf_of(client), **form})
    assert answer.status_code == 200 and "已提交" in answer.text
    assert reports_count(db_session) == 1


def test_reports_of_another_enterprise_are_not_shown(login, db_session, today):
    from checkonce.visits.reports import ReportInput, file_report

    elsewhere = f.enterprise(db_session)
    other = file_report(
        db_session=db_session,
        enterprise_id=elsewhere.id,
        data=ReportInput(kind="other", happened_on=TODAY, description="别家企业的反映内容很长很长"),
        actor=f.as_enterprise(elsewhere),
        today=TODAY,
    )
    page = login("enterprise").get("/enterprise/report")
    assert f'id="report-{other.id}"' not in page.text and "别家企业的反映" not in page.text


# -------------------------------------------------------------------------------- poster


def test_poster_page_offers_only_the_own_poster(login, db_session, firm):
    client = login("enterprise")
    page = client.get("/enterprise/poster")
    assert page.status_code == 200
    links = set(re.findall(r'(?:src|href)="(/api/v1/enterprises/[^"]+)"', page.text))
    assert links == {
        f"/api/v1/enterprises/{firm.credit_code}/poster.svg",
        f"/api/v1/enterprises/{firm.credit_code}/poster.png",
    }
    png = client.get(f"/api/v1/enterprises/{firm.credit_code}/poster.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    svg = client.get(f"/api/v1/enterprises/{firm.credit_code}/poster.svg")
    assert svg.status_code == 200 and firm.name in svg.text
    stranger = f.enterprise(db_session)
    other = client.get(f"/api/v1/enterprises/{stranger.credit_code}/poster.png")
    assert other.status_code == 404
