"""The visit's paperwork and the enterprise's say in its time, in a real browser on a phone:
two inspectors generate and sign the on-site record with a finger on the <canvas>, the
enterprise's representative signs on one of their phones, the enterprise finds the signed PDF
(the same bytes as the stored hash) on its own pages; an enterprise moves its announced visit
to another feasible day, and the coordinator's re-plan honours it with everything else frozen,
verified again by the scheduler's verifier."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from checkonce.auth.service import create_user
from checkonce.documents import reschedule
from checkonce.documents.models import InspectionDocument, RescheduleRequest
from checkonce.visits.models import ScheduleVersion, Visit
from tests import factories as f
from tests.e2e.conftest import PASSWORD, log_in

_serial = itertools.count(1)


@pytest.fixture(autouse=True)
def documents_folder(tmp_path, monkeypatch):
    # The server runs in this process: its document store follows the variable.
    monkeypatch.setenv("CHECKONCE_DOCUMENTS_DIR", str(tmp_path / "documents"))


def today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def account(session, role: str, **kw) -> str:
    name = f"e2e-doc-{role}-{next(_serial)}"
    create_user(
        db_session=session, actor=f.SETUP, username=name, password=PASSWORD, role=role, **kw
    )
    return name


def draw(page, selector: str = "#sig-pad") -> None:
    box = page.locator(selector).bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.1, y + h * 0.7)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(x + w * (0.1 + 0.07 * i), y + h * (0.7 - 0.4 * (i % 2)), steps=3)
    page.mouse.up()


def submit_signature(page) -> None:
    """Submit and wait for the page to reload with the signature saved."""
    try:
        with page.expect_navigation():
            page.click("#sig-submit")
    except Exception as exc:  # show what the page said rather than a bare timeout
        raise AssertionError(page.locator("#sig-error").inner_text()) from exc


def sign_as_me(page) -> None:
    page.check("input[name=signer][value=inspector]")
    draw(page)
    submit_signature(page)


def test_signing_the_on_site_record_on_a_phone(
    browser, phone, live_server, live_session, screenshot, outside_requests
):
    n = next(_serial)
    firm = f.enterprise(live_session, name=f"签名测试餐馆{n}")
    first = f.inspector(live_session, "SAMR", name=f"王签名{n}")
    second = f.inspector(live_session, "SAMR", name=f"李签名{n}")
    visit = f.visit_with_tasks(live_session, firm, [first, second], day=today(), state="checked_in")
    visit.announced = True
    first_user = account(live_session, "inspector", inspector=first.code)
    second_user = account(live_session, "inspector", inspector=second.code)
    firm_user = account(live_session, "enterprise", credit_code=firm.credit_code)
    live_session.commit()

    # The first inspector generates the record from the visit page and signs it.
    log_in(phone, live_server, first_user)
    phone.goto(f"{live_server}/inspector/visits/{visit.id}")
    phone.click("a.documents-link")
    phone.select_option("#kind", "onsite_record")
    phone.click("form.generate button[type=submit]")
    phone.wait_for_load_state("networkidle")
    assert "检录" in phone.locator("article[data-kind=onsite_record] .doc-no").inner_text()
    phone.click("article[data-kind=onsite_record] a.sign-link")
    screenshot(phone, "sign-page")
    # An empty pad is refused on the page itself.
    phone.check("input[name=signer][value=inspector]")
    phone.click("#sig-submit")
    assert "手写签名" in phone.locator("#sig-error").inner_text()
    sign_as_me(phone)
    assert "李签名" in phone.locator("#missing").inner_text()
    # The enterprise's representative signs on the same phone, with name and role.
    phone.check("input[name=signer][value=enterprise]")
    phone.fill("#sig-name", "陈老板")
    phone.fill("#sig-role", "负责人")
    draw(phone)
    submit_signature(phone)
    assert "陈老板" in phone.locator(".signed-list").inner_text()
    screenshot(phone, "signed-by-two")

    # The second inspector signs on its own phone: the record is complete.
    phone.context.clear_cookies()
    log_in(phone, live_server, second_user)
    doc_id = live_session.scalar(
        select(InspectionDocument.id).where(InspectionDocument.visit_id == visit.id)
    )
    phone.goto(f"{live_server}/inspector/documents/{doc_id}/sign")
    sign_as_me(phone)
    assert phone.locator("#sign-done").is_visible()
    screenshot(phone, "signed-complete")

    # The enterprise finds the signed PDF on its own pages: the stored bytes, by their hash.
    phone.context.clear_cookies()
    log_in(phone, live_server, firm_user)
    phone.goto(f"{live_server}/enterprise/documents")
    link = phone.locator(f"#doc-{doc_id} a.signed-link")
    assert link.is_visible()
    screenshot(phone, "enterprise-documents")
    pdf = phone.request.get(live_server + link.get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    live_session.rollback()  # a fresh snapshot of what the pages wrote
    doc = live_session.get(InspectionDocument, doc_id)
    assert hashlib.sha256(pdf.body()).hexdigest() == doc.signed_sha256
    assert [s.name for s in doc.signatures] == [f"王签名{n}", "陈老板", f"李签名{n}"]
    assert outside_requests == []


def quarter(day: dt.date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def test_enterprise_moves_its_visit_and_the_replan_honours_it(
    phone, desktop, live_server, live_session, screenshot, outside_requests
):
    calendar, policy = f.calendar(), f.policy()
    # Three workdays ahead: the enterprise already sees it and may still ask (2 workdays).
    day = calendar.add_workdays(today(), 3)
    n = next(_serial)
    firm = f.enterprise(live_session, name=f"改期测试商店{n}")
    other = f.enterprise(live_session, name=f"不动的企业{n}")
    team = [f.inspector(live_session, "SAMR"), f.inspector(live_session, "SAMR")]
    visit = f.visit_with_tasks(live_session, firm, team, day=day, state="scheduled")
    visit.announced = True
    version = visit.schedule
    version.period = f"{quarter(day)}"[:8]
    # Keep quarters of other tests apart: this period is this test's alone.
    live_session.query(ScheduleVersion).filter(
        ScheduleVersion.period == version.period, ScheduleVersion.id != version.id
    ).update({"period": "X"}, synchronize_session=False)
    kept = f.visit_with_tasks(
        live_session, other, team, day=calendar.add_workdays(day, 1), state="scheduled"
    )
    kept.start, kept.end = dt.time(9, 0), dt.time(17, 0)  # the team's whole next day:
    for link in kept.tasks:  # its task keeps them on site all day (interchange v2, rule 5)
        link.task.minutes = 480
    old = kept.schedule
    kept.schedule_id = version.id
    live_session.flush()
    live_session.delete(old)
    firm_user = account(live_session, "enterprise", credit_code=firm.credit_code)
    coordinator = account(live_session, "coordinator")
    live_session.commit()
    kept_before = (kept.code, kept.day, kept.start, kept.end)

    log_in(phone, live_server, firm_user)
    phone.goto(f"{live_server}/enterprise")
    phone.click(f"#visit-{visit.id} a.reschedule-link")
    options = phone.locator("label.day-option input")
    assert options.count() >= 1
    offered = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert day.isoformat() not in offered and kept_before[1].isoformat() not in offered
    screenshot(phone, "reschedule-options")
    chosen = offered[-1]
    options.nth(len(offered) - 1).check()
    phone.fill("#reason", "当天接待上级检查")
    phone.click("#options button[type=submit]")
    phone.wait_for_load_state("networkidle")
    assert phone.locator("#requested-day").inner_text().startswith(chosen)
    screenshot(phone, "reschedule-requested")

    log_in(desktop, live_server, coordinator)
    desktop.goto(f"{live_server}/coordinator/reschedule-requests?state=pending")
    assert visit.code in desktop.locator("#requests").inner_text()
    screenshot(desktop, "coordinator-requests")
    desktop.click(f"form.replan:has(input[value='{version.period}']) button")
    desktop.wait_for_load_state("networkidle")
    assert "/coordinator/schedules/" in desktop.url

    live_session.rollback()  # a fresh snapshot of what the pages wrote
    request = live_session.scalars(
        select(RescheduleRequest).where(RescheduleRequest.visit_code == visit.code)
    ).one()
    assert request.state == "planned"
    draft = live_session.get(ScheduleVersion, request.schedule_id)
    moved = {v.code: v for v in draft.visits}
    assert moved[visit.code].day.isoformat() == chosen
    other_now = moved[kept.code]
    assert (other_now.code, other_now.day, other_now.start, other_now.end) == kept_before
    report = reschedule.verify_version(live_session, draft, policy=policy, calendar=calendar)
    assert report.ok, report.violations
    assert draft.violations == 0
    assert live_session.get(Visit, visit.id).day == day  # in force until the draft is published
    assert outside_requests == []
