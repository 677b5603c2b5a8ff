"""The public pages: published plans, draws and results for anyone, never anything unpublished,
paged, filterable, in Chinese and English."""

from __future__ import annotations

import datetime as dt

import pytest

from checkonce.db import utcnow
from checkonce.findings.service import publish_results, record_result
from checkonce.sampling.models import Draw, DrawMember
from tests import factories as f
from tests.findings.conftest import passed, tasks_of


@pytest.fixture
def plans(db_session):
    published = f.plan(db_session, [f.random_task()], period="2027Q1", state="published")
    published.title = "2027 年一季度食品安全双随机抽查计划"
    q2 = f.random_task(window=["2027-04-01", "2027-06-30"])
    approved = f.plan(db_session, [q2], period="2027Q2", state="approved")
    approved.title = "尚未公开的二季度计划"
    q3 = f.random_task(window=["2027-07-01", "2027-09-30"])
    draft = f.plan(db_session, [q3], period="2027Q3")
    draft.title = "草稿计划"
    db_session.flush()
    return published, approved, draft


def draw(db_session, state: str, title: str, **overrides) -> Draw:
    firm = f.enterprise(db_session)
    row = Draw(
        year=2027,
        state=state,
        title=title,
        seed="a" * 64,
        seed_sha256="b" * 64,
        population_sha256="c" * 64,
        population_size=40,
        strata=[],
        exclude_drawn_same_item_year=False,
        commitment_sha256="d" * 64,
        committed_by="coordinator:c",
        published_at=utcnow() if state == "published" else None,
        published_by="coordinator:c" if state == "published" else None,
        **overrides,
    )
    db_session.add(row)
    db_session.flush()
    db_session.add(
        DrawMember(
            draw_id=row.id,
            enterprise_id=firm.id,
            credit_code=firm.credit_code,
            stratum="B",
            rank=1,
            selected=True,
        )
    )
    db_session.flush()
    return row


def results(db_session, *, publish: bool, name: str):
    """A visit of a new enterprise called `name` with its SAMR result recorded (and published)."""
    firm = f.enterprise(db_session, name=name)
    team = [f.inspector(db_session, "SAMR"), f.inspector(db_session, "SAMR")]
    visit = f.visit_with_tasks(db_session, firm, team, day=dt.date(2026, 11, 18))
    (task,) = tasks_of(db_session, visit)
    row = record_result(
        db_session=db_session,
        visit_id=visit.id,
        inspection_task_id=task.id,
        inspector_id=team[0].id,
        actor=f.actor("inspector", inspector_id=team[0].id),
        data=passed(db_session, task),
        policy=f.policy(),
        calendar=f.calendar(),
    )
    if publish:
        publish_results(db_session=db_session, result_ids=[row.id], actor=f.coordinator("c"))
    return row


def test_public_home_shows_only_what_is_published(login, db_session, plans):
    published, approved, draft = plans
    shown_draw = draw(db_session, "published", "餐饮业双随机抽取")
    hidden_draw = draw(db_session, "revealed", "尚未公开的抽取")
    results(db_session, publish=True, name="已公开结果的餐馆")
    results(db_session, publish=False, name="未公开结果的餐馆")
    for role in (None, "enterprise", "bureau"):
        page = login(role).get("/public")
        assert page.status_code == 200, (role, page.text)
        text = page.text
        assert published.title in text and f'href="/public/plans/{published.id}"' in text
        assert approved.title not in text and draft.title not in text
        assert shown_draw.title in text and f"/api/v1/public/draws/{shown_draw.id}/verify" in text
        assert hidden_draw.title not in text and f"/public/draws/{hidden_draw.id}" not in text
        assert "已公开结果的餐馆" in text and "未公开结果的餐馆" not in text
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text


def test_plan_detail_of_a_published_plan_only(client, db_session, plans):
    published, approved, draft = plans
    page = client.get(f"/public/plans/{published.id}")
    assert page.status_code == 200
    assert "双随机抽查" in page.text and "行业：餐饮服务" in page.text
    assert "2027-01-04" in page.text
    for hidden in (approved, draft):
        answer = client.get(f"/public/plans/{hidden.id}")
        assert answer.status_code == 404 and hidden.title not in answer.text
        assert "不存在或尚未公开" in answer.text
    assert client.get("/public/plans/999999").status_code == 404
    assert client.get("/public/plans/abc").status_code == 422


def test_plans_filter_by_year_and_department(client, db_session, plans):
    published, *_ = plans
    assert published.title in client.get("/public/plans?year=2027&department=SAMR").text
    assert published.title not in client.get("/public/plans?year=2026").text
    assert published.title not in client.get("/public/plans?department=FIRE").text
    assert client.get("/public/plans?year=1999").status_code == 422
    assert client.get("/public/plans?department=<script>").status_code == 422


def test_results_are_paged_and_filtered(client, db_session):
    for n in range(23):
        results(db_session, publish=True, name=f"公开餐馆{n:02d}")
    results(db_session, publish=False, name="未公开餐馆")
    first = client.get("/public/results")
    second = client.get("/public/results?page=2")
    assert first.status_code == second.status_code == 200
    assert first.text.count("公开餐馆") == 20 and second.text.count("公开餐馆") == 3
    assert "第 1 / 2 页，共 23 条" in first.text
    assert 'href="?page=2"' in first.text
    assert "未公开餐馆" not in first.text + second.text
    filtered = client.get("/public/results?period=2026Q4&department=samr&page=2")
    assert (
        "第 2 / 2 页" in filtered.text
        and 'href="?page=1&amp;department=SAMR&amp;period=2026Q4"' in filtered.text
    )
    assert "/api/v1/public/results.csv?period=2026Q4" in filtered.text
    assert "公开餐馆" not in client.get("/public/results?department=FIRE").text
    assert client.get("/public/results?period=2026Q5").status_code == 422
    assert client.get("/public/results?page=0").status_code == 422
    assert client.get("/public/results?page=9").status_code == 200  # past the end: empty


def test_draws_page_lists_published_draws(client, db_session):
    shown = draw(db_session, "published", "公开的抽取")
    redrawn = draw(
        db_session, "published", "重新抽取的", supersedes_id=shown.id, redraw_reason="总体有误"
    )
    draw(db_session, "committed", "只公布了承诺的抽取")
    page = client.get("/public/draws")
    assert page.status_code == 200
    assert shown.title in page.text and redrawn.title in page.text and "总体有误" in page.text
    assert "只公布了承诺的抽取" not in page.text
    assert shown.seed not in page.text  # the page links to the data, it does not print seeds


def test_public_pages_in_english(client, db_session, plans):
    results(db_session, publish=True, name="英文页面的餐馆")
    page = client.get("/public?lang=en")
    assert "Published inspection plans" in page.text and "Published results" in page.text
    assert "Passed" in page.text
    assert "公开的检查计划" not in page.text
