"""The coordinator's pages: dashboard KPIs, plan review, draws, schedule generation and
publication, the calendar and the maps; refused actions change nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from checkonce.api.cookies import CSRF_HEADER
from checkonce.plans.models import Plan, PlanEvent
from checkonce.registry.models import Enterprise
from checkonce.sampling.models import Draw
from checkonce.visits.models import ScheduleVersion
from tests import factories as f
from tests.api.pages.conftest import csrf_of
from tests.visits.scenario import SEED, build


@pytest.fixture
def world(db_session, users):
    return build(db_session)


def generate(client, period="2027Q1") -> dict:
    """Start a generation as the schedules page's script does (cookie + CSRF header); the
    test client runs the background job before answering."""
    token = csrf_of(client)
    started = client.post(
        "/api/v1/schedules/jobs",
        json={"period": period, "seed": SEED, "time_limit": 5},
        headers={CSRF_HEADER: token},
    )
    assert started.status_code == 202, started.text
    job = client.get(f"/api/v1/schedules/jobs/{started.json()['id']}").json()
    assert job["state"] == "done", job
    return job


def published_version(client, db_session) -> ScheduleVersion:
    job = generate(client)
    response = client.post(
        f"/coordinator/schedules/{job['schedule_id']}/publish",
        data={"csrf": csrf_of(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/coordinator/calendar?schedule={job['schedule_id']}"
    return db_session.get(ScheduleVersion, job["schedule_id"])


def kpi(page: str, label: str) -> str:
    """The value shown above a KPI's label on the dashboard."""
    match = re.search(
        r'<div class="value">([^<]*)</div>\s*<div class="label">' + re.escape(label), page
    )
    assert match, f"no KPI {label}"
    return match.group(1).strip()


def test_schedule_generation_page_publish_and_dashboard(login, world, db_session):
    client = login("coordinator")
    page = client.get("/coordinator/schedules?period=2027Q1")
    assert page.status_code == 200
    assert 'id="generate"' in page.text and "/static/coordinator.js" in page.text

    version = published_version(client, db_session)
    assert version.state == "published"

    detail = client.get(f"/coordinator/schedules/{version.id}").text
    assert "全部硬约束均满足" in detail and "发布排程" not in detail

    dash = client.get("/coordinator").text
    assert "2027Q1" in dash
    assert kpi(dash, "入企检查次数") == "4"
    # 4 visits against a lower bound of 4; 2 of 4 visits are joint (SAMR + FIRE); each
    # department alone would have entered 6 times.
    assert kpi(dash, "检查次数 / 理论下限") == "1.000"
    assert kpi(dash, "联合检查占比") == "50.0%"
    assert kpi(dash, "减少入企次数") == "2"
    assert kpi(dash, "待审核计划") == "0"
    assert kpi(dash, "结果逾期未公开") == "0"


def test_calendar_by_day_district_and_department(login, world, db_session):
    client = login("coordinator")
    version = published_version(client, db_session)

    month = client.get(f"/coordinator/calendar?schedule={version.id}").text
    assert "2027 年 3 月" in month and "共 4 次检查" in month
    counts = re.findall(r'data-count="(\d+)"', month)
    assert sorted(map(int, counts)) == [1, 1, 1, 1]

    first = world.firms[0]
    visit = next(v for v in version.visits if v.enterprise_id == first.id)
    day = client.get(f"/coordinator/calendar?schedule={version.id}&day={visit.day}").text
    assert first.name in day
    assert "市场监管" in day and "消防" in day and "联合" in day
    team = [m.inspector.name for m in visit.team]
    assert all(name in day for name in team)

    only_fire = client.get(
        f"/coordinator/calendar?schedule={version.id}&department=FIRE&month=2027-03"
    ).text
    assert "共 2 次检查" in only_fire
    elsewhere = client.get(
        f"/coordinator/calendar?schedule={version.id}&district=610103&month=2027-03"
    ).text
    assert "共 0 次检查" in elsewhere  # the scenario's firms are all in 雁塔区

    # A malformed month or an unknown department falls back rather than failing.
    assert client.get("/coordinator/calendar?month=2027-99&department=NOPE").status_code == 200
    assert client.get("/coordinator/calendar?schedule=999999").status_code == 404


def test_admin_sees_but_cannot_publish(login, world, db_session):
    coordinator = login("coordinator")
    job = generate(coordinator)
    admin = login("admin")
    page = admin.get(f"/coordinator/schedules/{job['schedule_id']}").text
    assert (
        "发布排程" not in page and 'id="generate"' not in admin.get("/coordinator/schedules").text
    )
    refused = admin.post(
        f"/coordinator/schedules/{job['schedule_id']}/publish", data={"csrf": csrf_of(admin)}
    )
    assert refused.status_code == 403
    assert db_session.get(ScheduleVersion, job["schedule_id"]).state == "draft"


def test_publish_without_csrf_is_refused(login, world, db_session):
    client = login("coordinator")
    job = generate(client)
    response = client.post(f"/coordinator/schedules/{job['schedule_id']}/publish", data={})
    assert response.status_code == 403
    assert db_session.get(ScheduleVersion, job["schedule_id"]).state == "draft"


def test_publishing_twice_shows_the_reason(login, world, db_session):
    client = login("coordinator")
    version = published_version(client, db_session)
    again = client.post(
        f"/coordinator/schedules/{version.id}/publish", data={"csrf": csrf_of(client)}
    )
    assert again.status_code == 409
    assert "只有" in again.text or "已发布" in again.text


def submitted_plan(db_session, dept="SAMR", **kw):
    firm = f.enterprise(db_session)
    return f.plan(
        db_session,
        [
            {
                "kind": "key",
                "items": ["SAMR-SP-002" if dept == "SAMR" else "FIRE-001"],
                "window": ["2027-01-04", "2027-02-26"],
                "enterprises": [firm.credit_code],
            }
        ],
        dept=dept,
        state="submitted",
        **kw,
    )


def test_plan_review_approve(login, users, db_session):
    plan = submitted_plan(db_session)
    client = login("coordinator")
    listing = client.get("/coordinator/plans").text
    assert f"/coordinator/plans/{plan.id}" in listing
    detail = client.get(f"/coordinator/plans/{plan.id}").text
    assert "12 项规则全部通过" in detail and "审核通过" in detail
    response = client.post(
        f"/coordinator/plans/{plan.id}/approve",
        data={"csrf": csrf_of(client), "note": "同意"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    db_session.refresh(plan)
    assert plan.state == "approved"
    assert plan.events[-1].actor == "coordinator:coord1" and plan.events[-1].note == "同意"
    page = client.get(f"/coordinator/plans/{plan.id}").text
    assert "已生成检查任务</dt><dd>1</dd>" in page and "向社会公开" in page


def test_return_needs_a_reason_and_changes_nothing(login, users, db_session):
    plan = submitted_plan(db_session)
    client = login("coordinator")
    events = db_session.scalar(select(func.count()).select_from(PlanEvent))
    response = client.post(
        f"/coordinator/plans/{plan.id}/return", data={"csrf": csrf_of(client), "note": "  "}
    )
    assert response.status_code == 400
    assert "退回计划须写明退回理由" in response.text
    db_session.refresh(plan)
    assert plan.state == "submitted"
    assert db_session.scalar(select(func.count()).select_from(PlanEvent)) == events

    ok = client.post(
        f"/coordinator/plans/{plan.id}/return",
        data={"csrf": csrf_of(client), "note": "时段与消防重复，请调整"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    db_session.refresh(plan)
    assert plan.state == "draft"


def test_approving_a_draft_is_refused_with_the_reason(login, users, db_session):
    plan = submitted_plan(db_session)
    client = login("coordinator")
    client.post(
        f"/coordinator/plans/{plan.id}/return", data={"csrf": csrf_of(client), "note": "改"}
    )
    refused = client.post(f"/coordinator/plans/{plan.id}/approve", data={"csrf": csrf_of(client)})
    assert refused.status_code == 409
    assert "当前为“草稿”" in refused.text
    db_session.refresh(plan)
    assert plan.state == "draft"


def test_plan_pages_of_unknown_plans_and_roles(login, users, db_session):
    plan = submitted_plan(db_session)
    assert login("coordinator").get("/coordinator/plans/999999").status_code == 404
    admin = login("admin")
    assert admin.get(f"/coordinator/plans/{plan.id}").status_code == 200
    assert (
        admin.post(
            f"/coordinator/plans/{plan.id}/approve", data={"csrf": csrf_of(admin)}
        ).status_code
        == 403
    )
    assert login("bureau").get(f"/coordinator/plans/{plan.id}").status_code == 403
    db_session.refresh(plan)
    assert plan.state == "submitted"


def test_draw_commit_run_reveal_publish_and_verify(login, users, db_session):
    for _ in range(6):
        f.enterprise(db_session, risk_class="C")
    plan = f.plan(db_session, [f.random_task(strata={"C": {"count": 2}})], state="approved")
    spec = plan.tasks[0]
    client = login("coordinator")
    page = client.get("/coordinator/draws").text
    assert f'name="plan_task" value="{spec.id}"' in page

    committed = client.post(
        "/coordinator/draws",
        data={"csrf": csrf_of(client), "plan_task": str(spec.id), "title": "餐饮抽查"},
        follow_redirects=False,
    )
    assert committed.status_code == 303
    draw = db_session.scalars(select(Draw).order_by(Draw.id.desc())).first()
    assert committed.headers["location"] == f"/coordinator/draws/{draw.id}"
    first = client.get(f"/coordinator/draws/{draw.id}").text
    assert draw.commitment_sha256 in first and draw.seed not in first
    assert "执行抽取" in first

    for step in ("run", "reveal", "publish"):
        response = client.post(
            f"/coordinator/draws/{draw.id}/{step}",
            data={"csrf": csrf_of(client)},
            follow_redirects=False,
        )
        assert response.status_code == 303, (step, response.text[:500])
    db_session.refresh(draw)
    assert draw.state == "published"
    done = client.get(f"/coordinator/draws/{draw.id}").text
    assert draw.seed in done and "验证通过" in done and 'id="verification"' in done

    again = client.post(f"/coordinator/draws/{draw.id}/run", data={"csrf": csrf_of(client)})
    assert again.status_code == 409


def test_draw_commit_without_a_task_changes_nothing(login, users, db_session):
    client = login("coordinator")
    before = db_session.scalar(select(func.count()).select_from(Draw))
    response = client.post("/coordinator/draws", data={"csrf": csrf_of(client)})
    assert response.status_code == 400 and "请至少选择一条双随机抽查任务" in response.text
    bad = client.post("/coordinator/draws", data={"csrf": csrf_of(client), "plan_task": "424242"})
    assert bad.status_code == 404 and "计划任务 424242 不存在" in bad.text
    assert db_session.scalar(select(func.count()).select_from(Draw)) == before


def test_maps_page_frames_the_map_with_its_period(login, users):
    client = login("coordinator")
    page = client.get("/coordinator/maps?map=fees&period=2027Q1").text
    assert 'src="/api/v1/maps/fees?period=2027Q1"' in page
    default = client.get("/coordinator/maps").text
    assert 'src="/api/v1/maps/coverage"' in default
    assert client.get("/coordinator/maps?map=elsewhere").status_code == 422
    assert "https://" not in default and "http://" not in default


def test_dashboard_without_a_schedule_and_in_english(login, users, db_session):
    submitted_plan(db_session)
    client = login("coordinator")
    page = client.get("/coordinator").text
    assert "这个期间还没有排程" in page
    assert kpi(page, "待审核计划") == "1"
    english = client.get("/coordinator?lang=en").text
    assert "Plans awaiting review" in english and "待审核计划" not in english


def test_plan_list_counts_states_and_pages(login, users, db_session):
    submitted_plan(db_session)
    client = login("coordinator")
    page = client.get("/coordinator/plans?state=draft").text
    assert "没有这个状态的计划" in page
    assert client.get("/coordinator/plans?state=nonsense").status_code == 422
    assert db_session.scalar(select(func.count()).select_from(Plan)) == 1


def test_enterprise_reports_are_listed_and_counted(login, users, db_session):
    import datetime as dt

    from checkonce.visits.reports import ReportInput, file_report

    firm = db_session.get(Enterprise, users["enterprise"].enterprise_id)
    today = dt.date.today()
    for kind, said in (("unregistered_inspection", "自称市场监管"), ("other", "")):
        file_report(
            db_session=db_session,
            enterprise_id=firm.id,
            actor=f.actor("enterprise", enterprise_id=firm.id),
            today=today,
            data=ReportInput(
                kind=kind,
                happened_on=today,
                department_said=said,
                description="两人进门要求查看账本，未出示检查码，也未扫码登记。",
            ),
        )
    db_session.flush()
    client = login("coordinator")
    page = client.get("/coordinator/reports").text
    assert page.count("未出示检查码") == 2 and firm.name in page and "自称市场监管" in page
    only = client.get("/coordinator/reports?kind=unregistered_inspection").text
    assert only.count("未出示检查码") == 1
    assert client.get("/coordinator/reports?kind=bogus").status_code == 422
    dashboard = client.get("/coordinator").text
    assert kpi(dashboard, "近 30 天企业反映") == "2" and "未登记检查 1 件" in dashboard
    assert login("bureau").get("/coordinator/reports").status_code == 403


def test_plan_page_lists_the_rules_a_plan_breaks(login, users, db_session):
    draft = f.plan(
        db_session,
        [
            {
                "kind": "special",
                "campaign_name": "餐饮专项",
                "items": ["SAMR-SP-001"],
                "window": ["2027-03-01", "2027-03-31"],
                "scope": {"industries": ["restaurant"]},
            }
        ],
    )
    page = login("coordinator").get(f"/coordinator/plans/{draft.id}").text
    assert "<code>check_campaign_approval</code>" in page
    assert "有错误的计划不能审核通过" in page and "12 项规则全部通过" not in page
    bureau_page = login("bureau").get(f"/bureau/plans/{draft.id}").text
    assert "<code>check_campaign_approval</code>" in bureau_page
    assert "有错误的计划不能提交" in bureau_page
    for shown in (page, bureau_page):  # the history: who filed it, into which state
        history = shown.split("流转记录", 1)[1]
        assert "department:测试员" in history and "草稿" in history
