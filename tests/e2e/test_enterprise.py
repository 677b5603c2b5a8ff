"""The enterprise's flow in a real browser, on a phone: log in, see the announced joint visit
and its merged checklist, check the inspector's code on the /v/<token> page, rate the visit
once the team has recorded its results, report an unregistered inspection; and the public
pages on a desktop. Screenshots of every page at phone and desktop sizes."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from sqlalchemy import select

from checkonce.auth.service import create_user
from checkonce.findings.models import VisitRating
from checkonce.findings.service import publish_results, record_result
from checkonce.visits.inspection_codes import issue_inspection_code
from checkonce.visits.models import EnterpriseReport, Visit
from tests import factories as f
from tests.e2e.conftest import PASSWORD, SECRET, log_in
from tests.findings.conftest import passed, tasks_of

_serial = itertools.count(1)


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def joint_visit_today(live_session) -> dict:
    """A restaurant with a login, and its announced joint visit today by a market-regulation
    officer and a fire officer (food and fire tasks), with the officer's inspection code."""
    n = next(_serial)
    firm = f.enterprise(live_session, name=f"长安老字号餐馆{n}")
    officer = f.inspector(live_session, "SAMR", name=f"王执法{n}")
    colleague = f.inspector(live_session, "FIRE", name=f"赵消防{n}")
    visit = f.visit_with_tasks(
        live_session,
        firm,
        [officer, colleague],
        day=today(),
        items=("SAMR-SP-001", "FIRE-001"),
        state="scheduled",
    )
    visit.announced = True
    username = f"e2e-firm-{n}-{firm.id}"
    create_user(
        db_session=live_session,
        actor=f.SETUP,
        username=username,
        password=PASSWORD,
        role="enterprise",
        credit_code=firm.credit_code,
        display_name=firm.name,
    )
    token, _ = issue_inspection_code(
        db_session=live_session, secret_key=SECRET, visit_id=visit.id, inspector_id=officer.id
    )
    live_session.commit()
    return {
        "firm_id": firm.id,
        "firm_name": firm.name,
        "officer_id": officer.id,
        "officer_name": officer.name,
        "certificate_no": officer.certificate_no,
        "colleague_id": colleague.id,
        "visit_id": visit.id,
        "username": username,
        "token": token,
    }


def team_records_results(live_session, scene: dict) -> None:
    """What the inspectors do on their phones (tested in test_inspector): check in, record
    both tasks as passed (the visit completes), and the coordinator publishes them."""
    live_session.rollback()  # a fresh snapshot: SQLite refuses a write on a stale one
    visit = live_session.get(Visit, scene["visit_id"])
    visit.state = "checked_in"
    live_session.flush()
    food, fire = tasks_of(live_session, visit)
    recorded = [
        record_result(
            db_session=live_session,
            visit_id=visit.id,
            inspection_task_id=task.id,
            inspector_id=person,
            actor=f.actor("inspector", inspector_id=person),
            data=passed(live_session, task),
            policy=f.policy(),
            calendar=f.calendar(),
        )
        for task, person in ((food, scene["officer_id"]), (fire, scene["colleague_id"]))
    ]
    publish_results(
        db_session=live_session, result_ids=[r.id for r in recorded], actor=f.coordinator("e2e")
    )
    live_session.commit()
    assert visit.state == "completed"


def test_enterprise_sees_checks_and_rates_the_visit(
    phone, desktop, live_server, live_session, screenshot, outside_requests
):
    scene = joint_visit_today(live_session)
    visit_id = scene["visit_id"]
    items = [
        (t.item.name, t.item.legal_basis, [line.text for line in t.item.checklist])
        for t in tasks_of(live_session, live_session.get(Visit, visit_id))
    ]
    # End the read transaction: SQLite's writers (the server) wait for open readers.
    live_session.rollback()

    # Log in on the phone: the announced joint visit with both departments and the merged sheet.
    log_in(phone, live_server, scene["username"], next_path="/enterprise")
    assert phone.url.endswith("/enterprise")
    card = phone.locator(f"#visit-{visit_id}")
    card.wait_for()
    assert "市场监督管理局" in card.locator(".departments").inner_text()
    assert "消防救援" in card.locator(".departments").inner_text()
    checklist = card.locator("details.checklist")
    assert checklist.get_attribute("open") is not None
    assert "一表通查" in checklist.locator("summary").inner_text()
    sheet = checklist.inner_text()
    for _name, _basis, lines in items:
        for line in lines:
            assert line in sheet
    screenshot(phone, "upcoming-phone")
    log_in(desktop, live_server, scene["username"], next_path="/enterprise")
    desktop.locator(f"#visit-{visit_id}").wait_for()
    screenshot(desktop, "upcoming-desktop")

    # The officer shows the inspection code; the enterprise pastes its link to check it.
    phone.click("nav.menu a[href='/enterprise/verify']")
    phone.wait_for_load_state("networkidle")
    screenshot(phone, "verify-phone")
    phone.fill("textarea[name=code]", f"{live_server}/v/{scene['token']}")
    phone.click("#verify-form button[type=submit]")
    phone.wait_for_url(f"**/v/{scene['token']}")
    assert "已登记的检查" in phone.locator("#verdict").inner_text()
    inspector = phone.locator("#inspector").inner_text()
    assert scene["officer_name"] in inspector and scene["certificate_no"] in inspector
    assert "市场监督管理局" in inspector
    tasks = phone.locator("#tasks").inner_text()
    for name, basis, _lines in items:
        assert name in tasks and basis in tasks
    screenshot(phone, "inspection-code-phone")

    # A code that is not ours: the page says plainly that the enterprise may refuse.
    phone.goto(f"{live_server}/v/V1.abcd.1.1.20270101.forged")
    assert "未登记的检查：您有权拒绝" in phone.locator("#verdict").inner_text()
    screenshot(phone, "inspection-code-refused-phone")

    # The team records its results; the enterprise rates the completed visit.
    team_records_results(live_session, scene)
    phone.goto(f"{live_server}/enterprise/history")
    done = phone.locator(f"#visit-{visit_id}")
    assert "合格" in done.locator("ul.results").inner_text()
    done.locator("fieldset.score label").nth(4).click()  # 5 points
    done.locator("textarea[name=comment]").fill("两个部门一次查完，没有耽误营业")
    done.locator("form.rating-form button[type=submit]").click()
    phone.wait_for_load_state("networkidle")
    assert "评价已提交" in phone.locator(".flash").inner_text()
    assert "★★★★★" in phone.locator(f"#visit-{visit_id} .rating-done").inner_text()
    screenshot(phone, "history-phone")

    live_session.expire_all()
    rating = live_session.scalars(select(VisitRating).where(VisitRating.visit_id == visit_id)).one()
    assert (rating.score, rating.comment) == (5, "两个部门一次查完，没有耽误营业")
    assert rating.enterprise_id == scene["firm_id"]
    live_session.rollback()

    # Report an unregistered inspection: a vague report is refused, a complete one stored.
    phone.goto(f"{live_server}/enterprise/report")
    phone.fill("input[name=department_said]", "自称区卫健局")
    phone.fill("textarea[name=description]", "太短")
    phone.click("#report-form button[type=submit]")
    assert "请写明经过" in phone.locator("[role=alert]").inner_text()
    screenshot(phone, "report-error-phone")
    phone.fill("textarea[name=description]", "两人未出示检查码，进后厨拍照后离开")
    phone.click("#report-form button[type=submit]")
    phone.wait_for_load_state("networkidle")
    assert "已提交" in phone.locator(".flash").inner_text()
    screenshot(phone, "report-phone")
    stored = live_session.scalars(
        select(EnterpriseReport).where(EnterpriseReport.enterprise_id == scene["firm_id"])
    ).all()
    assert [(r.department_said, r.kind) for r in stored] == [
        ("自称区卫健局", "unregistered_inspection")
    ]
    live_session.rollback()

    phone.goto(f"{live_server}/enterprise/poster")
    poster = phone.locator("figure.poster img")
    poster.wait_for()
    assert phone.evaluate("img => img.complete && img.naturalWidth > 0", poster.element_handle())
    screenshot(phone, "poster-phone")

    # The same pages on a desktop, and the public pages (with a published plan).
    plan = f.plan(live_session, [f.random_task()], state="published")
    plan.title = "2027 年一季度餐饮服务食品安全双随机抽查计划"
    plan_id = plan.id
    live_session.commit()
    desktop.goto(f"{live_server}/public")
    assert plan.title in desktop.locator("#plans").inner_text()
    assert "公开信息" in desktop.locator("h1").inner_text()
    assert scene["firm_name"] in desktop.locator("#results").inner_text()
    screenshot(desktop, "public-desktop")
    desktop.goto(f"{live_server}/public/results")
    screenshot(desktop, "public-results-desktop")
    desktop.goto(f"{live_server}/public/plans/{plan_id}")
    assert "双随机抽查" in desktop.locator("table").inner_text()
    screenshot(desktop, "public-plan-desktop")
    phone.goto(f"{live_server}/public")
    screenshot(phone, "public-phone")
    for path, name in (
        ("/enterprise/history", "history"),
        ("/enterprise/verify", "verify"),
        ("/enterprise/report", "report"),
        ("/enterprise/poster", "poster"),
        (f"/v/{scene['token']}", "inspection-code"),
    ):
        desktop.goto(f"{live_server}{path}")
        desktop.wait_for_load_state("networkidle")
        screenshot(desktop, f"{name}-desktop")
    desktop.goto(f"{live_server}/enterprise?lang=en")
    assert desktop.locator("h1").inner_text() == "Upcoming visits"
    screenshot(desktop, "upcoming-english-desktop")
    phone.goto(f"{live_server}/public/plans/{plan_id}")
    screenshot(phone, "public-plan-phone")
    assert not outside_requests, outside_requests
