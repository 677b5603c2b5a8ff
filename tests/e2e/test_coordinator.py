"""The coordinator flow in a real browser: a bureau uploads a plan with one bad row (the row
error is shown, no plan is created), fixes the file, uploads and submits it; the coordinator
approves it, generates the period's schedule watching its progress, publishes it, finds the
visits in the calendar and opens the coverage map with every outside host blocked.

The registry is a few hundred generated enterprises of the demo generator plus a handful of
officers; the period is 2027Q2 so the flow does not meet the other browser tests' data."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from checkonce.auth.service import create_user
from checkonce.config import packaged_data_dir
from checkonce.plans.models import Plan
from checkonce.registry.demo import generate_enterprises
from checkonce.registry.jurisdiction import Jurisdiction
from checkonce.registry.models import Department, Enterprise
from checkonce.visits.models import ScheduleVersion, Visit
from tests import factories as f
from tests.e2e.conftest import PASSWORD, log_in

PERIOD = "2027Q2"
WINDOW = ("2027-04-12", "2027-06-25")
HEADER = "任务类型,检查事项,开始日期,结束日期,企业信用代码,备注\n"
# A well-formed credit code (valid check digit) of an enterprise that is not registered.
UNREGISTERED = f.credit_code(99_999_991, "610103")


def registry(session) -> list[Enterprise]:
    """300 generated enterprises (those not yet in the database), officers of SAMR and FIRE,
    and an approved FIRE plan for some of the firms the bureau will name, so that visits are
    merged across departments. Returns the firms for the bureau's plan."""
    juris = Jurisdiction(packaged_data_dir())
    known = set(session.scalars(select(Enterprise.credit_code)))
    generated = []
    for row in generate_enterprises(juris, 300, seed=20270412):
        generated.append(row["credit_code"])
        if row["credit_code"] not in known:
            session.add(Enterprise(**row))
    session.flush()
    firms = list(
        session.scalars(
            select(Enterprise)
            .where(
                Enterprise.credit_code.in_(generated),
                Enterprise.district_adcode.in_(("610103", "610113")),
                Enterprise.whitelisted.is_(False),
                Enterprise.active.is_(True),
            )
            .order_by(Enterprise.credit_code)
            .limit(8)
        )
    )
    assert len(firms) == 8
    for _ in range(4):
        f.inspector(session, "SAMR")
    for _ in range(3):
        f.inspector(session, "FIRE")
    f.plan(
        session,
        [
            {
                "kind": "key",
                "items": ["FIRE-001"],
                "window": list(WINDOW),
                "enterprises": [firm.credit_code for firm in firms[:3]],
            }
        ],
        dept="FIRE",
        period=PERIOD,
        actor=f.bureau(session, "FIRE", "消防"),
        state="approved",
    )
    create_user(
        db_session=session,
        actor=f.SETUP,
        username="e2e-samr-plans",
        password=PASSWORD,
        role="bureau",
        department="SAMR",
        display_name="市场监管计划员",
    )
    create_user(
        db_session=session,
        actor=f.SETUP,
        username="e2e-coordinator",
        password=PASSWORD,
        role="coordinator",
        display_name="司法局协调员",
    )
    session.commit()
    return firms


def plan_file(lines: list[str]) -> dict:
    return {
        "name": "市场监管二季度计划.csv",
        "mimeType": "text/csv",
        "buffer": (HEADER + "".join(line + "\n" for line in lines)).encode("utf-8"),
    }


def samr_plans(session) -> list[Plan]:
    session.rollback()  # a new transaction: see what the pages committed since
    samr = session.scalar(select(Department.id).where(Department.code == "SAMR"))
    return list(
        session.scalars(select(Plan).where(Plan.department_id == samr, Plan.period == PERIOD))
    )


def upload(page, live_server: str, lines: list[str]) -> None:
    page.goto(f"{live_server}/bureau/upload")
    page.fill("input[name=period]", PERIOD)
    page.set_input_files("input[name=file]", plan_file(lines))
    page.click("form[action='/bureau/upload'] button[type=submit]")
    page.wait_for_load_state("networkidle")


def both(phone, live_server: str, desktop, screenshot, name: str) -> None:
    """Screenshots of the desktop's current page at desktop size and on the phone."""
    screenshot(desktop, f"{name}-desktop")
    phone.goto(desktop.url)
    phone.wait_for_load_state("networkidle")
    screenshot(phone, f"{name}-phone")


def test_plan_upload_approval_schedule_calendar_and_map(
    desktop, phone, live_server, live_session, screenshot, outside_requests
):
    firms = registry(live_session)
    names = "；".join(firm.credit_code for firm in firms)
    good = f"重点,SAMR-SP-001,{WINDOW[0]},{WINDOW[1]},{names},餐饮重点企业"
    bad = f"重点,SAMR-SP-002,{WINDOW[0]},{WINDOW[1]},{UNREGISTERED},"

    # --- the bureau: a file with one bad row is refused whole, with the row shown
    log_in(desktop, live_server, "e2e-samr-plans")
    log_in(phone, live_server, "e2e-samr-plans")
    assert desktop.url.endswith("/bureau")
    upload(desktop, live_server, [good, bad])
    errors = desktop.locator("#row-errors tr.row-error")
    assert errors.count() == 1
    text = errors.first.inner_text()
    assert "第 3 行" in text and "企业信用代码" in text and "未在企业库中登记" in text
    assert "没有创建任何计划" in desktop.locator("[role=alert]").inner_text()
    assert samr_plans(live_session) == []
    screenshot(desktop, "upload-errors-desktop")
    upload(phone, live_server, [good, bad])
    assert phone.locator("#row-errors tr.row-error").count() == 1
    screenshot(phone, "upload-errors-phone")

    # --- fixed: the plan is a draft, then submitted
    upload(desktop, live_server, [good])
    assert "/bureau/plans/" in desktop.url
    (plan,) = samr_plans(live_session)
    assert plan.state == "draft" and len(plan.tasks) == 1
    assert "12 项规则全部通过" in desktop.locator("#validation").inner_text()
    both(phone, live_server, desktop, screenshot, "bureau-plan")
    desktop.click("#validation button[type=submit]")
    desktop.wait_for_load_state("networkidle")
    assert "计划已提交" in desktop.locator(".flash").inner_text()
    (plan,) = samr_plans(live_session)
    assert plan.state == "submitted"
    desktop.goto(f"{live_server}/bureau")
    both(phone, live_server, desktop, screenshot, "bureau-home")
    desktop.click("form[action='/logout'] button")
    desktop.wait_for_load_state("networkidle")

    # --- the coordinator approves it
    log_in(desktop, live_server, "e2e-coordinator")
    log_in(phone, live_server, "e2e-coordinator")
    desktop.goto(f"{live_server}/coordinator/plans")
    both(phone, live_server, desktop, screenshot, "plans")
    desktop.click(f"a[href='/coordinator/plans/{plan.id}'] >> nth=0")
    desktop.wait_for_load_state("networkidle")
    both(phone, live_server, desktop, screenshot, "plan-review")
    desktop.fill("form[action$='/approve'] input[name=note]", "符合年度监管重点")
    desktop.click("form[action$='/approve'] button")
    desktop.wait_for_load_state("networkidle")
    assert "计划已审核通过" in desktop.locator(".flash").inner_text()
    (plan,) = samr_plans(live_session)
    assert plan.state == "approved"

    # --- generates the period's schedule, watching the progress finish, and publishes it
    desktop.goto(f"{live_server}/coordinator/schedules?period={PERIOD}")
    assert desktop.input_value("#generate input[name=period]") == PERIOD
    desktop.fill("#generate input[name=seed]", "e2e0" * 16)
    desktop.fill("#generate input[name=time_limit]", "20")
    desktop.click("#generate button[type=submit]")
    desktop.wait_for_selector("#job:not([hidden])")
    desktop.wait_for_selector("#job-schedule", timeout=180_000)
    assert desktop.locator("#job-percent").inner_text() == "100%"
    assert "校验通过" in desktop.locator("#job-message").inner_text()
    screenshot(desktop, "schedule-generated-desktop")
    desktop.click("#job-schedule")
    desktop.wait_for_load_state("networkidle")
    assert "全部硬约束均满足" in desktop.locator("#verifier").inner_text()
    both(phone, live_server, desktop, screenshot, "schedule")
    desktop.click("form[action$='/publish'] button")
    desktop.wait_for_load_state("networkidle")
    assert "排程已发布" in desktop.locator(".flash").inner_text()
    live_session.rollback()
    version = live_session.scalars(
        select(ScheduleVersion).where(
            ScheduleVersion.period == PERIOD, ScheduleVersion.state == "published"
        )
    ).one()
    visits = list(live_session.scalars(select(Visit).where(Visit.schedule_id == version.id)))
    # 8 SAMR firms, 3 of them also under FIRE in the same window: 8 visits, 3 of them joint.
    assert len(visits) == 8

    # --- the calendar shows the visits; a day lists them with departments and team
    assert "/coordinator/calendar" in desktop.url
    cells = desktop.locator("table.month a.cell[data-count]")
    assert cells.count() >= 1
    shown = sum(int(cells.nth(i).get_attribute("data-count")) for i in range(cells.count()))
    assert shown == len([v for v in visits if v.day.strftime("%Y-%m") == _month(desktop)])
    cells.first.click()
    desktop.wait_for_load_state("networkidle")
    rows = desktop.locator("#day tr.visit")
    assert rows.count() >= 1
    firm_names = {firm.name for firm in firms}
    assert any(name in rows.first.inner_text() for name in firm_names)
    both(phone, live_server, desktop, screenshot, "calendar")

    desktop.goto(f"{live_server}/coordinator?period={PERIOD}")
    assert "8" in desktop.locator("a.kpi", has_text="入企检查次数").inner_text()
    both(phone, live_server, desktop, screenshot, "dashboard")

    # --- the coverage map renders its layers with every outside host blocked
    desktop.goto(f"{live_server}/coordinator/maps?map=coverage&period={PERIOD}")
    frame = desktop.frame_locator("#map-frame")
    frame.locator(".leaflet-control-layers").wait_for(state="attached")
    frame.locator(".leaflet-marker-icon").first.wait_for(state="attached")
    assert frame.locator(".leaflet-marker-icon").count() >= 1
    inner = next(fr for fr in desktop.frames if "/api/v1/maps/coverage" in fr.url)
    assert inner.evaluate("typeof L === 'object' && typeof L.map === 'function'")
    assert frame.locator(".leaflet-control-layers-overlays label").count() >= 2
    both(phone, live_server, desktop, screenshot, "coverage-map")
    for name in ("draws", "schedules"):
        desktop.goto(f"{live_server}/coordinator/{name}")
        both(phone, live_server, desktop, screenshot, name)
    assert not outside_requests, outside_requests


def _month(page) -> str:
    """The month the calendar page shows, as YYYY-MM (from its month field)."""
    value = page.locator("form.filters input[name=month]").get_attribute("value")
    dt.datetime.strptime(value, "%Y-%m")
    return value
