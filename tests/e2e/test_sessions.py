"""A form sent after the session ended, in a real browser: the enterprise logs in again and
finds its form as it had typed it (nothing lost, nothing sent twice); and the pages work
under the strict Content-Security-Policy (the fixtures fail on any violation)."""

from __future__ import annotations

from sqlalchemy import func, select

from checkonce.auth.service import create_user
from checkonce.visits.models import EnterpriseReport
from tests import factories as f
from tests.e2e.conftest import PASSWORD, log_in

TYPED = "两人自称区市场监管局，未出示执法证，也没有扫码登记。检查了后厨一个小时。"


def reports(session) -> int:
    """Reports on record, read in a transaction of its own (an open SQLite read would keep
    the server from writing)."""
    count = session.scalar(select(func.count()).select_from(EnterpriseReport))
    session.rollback()
    return count


def test_typed_report_survives_an_expired_session(phone, live_server, live_session, screenshot):
    firm = f.enterprise(live_session)
    create_user(
        db_session=live_session,
        actor=f.SETUP,
        username="e2e-firm-session",
        password=PASSWORD,
        role="enterprise",
        credit_code=firm.credit_code,
    )
    live_session.commit()
    before = reports(live_session)

    log_in(phone, live_server, "e2e-firm-session", next_path="/enterprise/report")
    phone.fill("input[name=department_said]", "区市场监管局")
    phone.fill("textarea[name=description]", TYPED)
    phone.fill("input[name=contact]", "029-88886666")
    # The session ends while the form is open (the idle timeout, a server restart…).
    phone.context.clear_cookies()
    phone.click("#report-form button[type=submit]")
    phone.wait_for_load_state("networkidle")
    assert "/login" in phone.url
    assert "登录已超时" in phone.content()
    screenshot(phone, "expired-login")

    phone.fill("input[name=username]", "e2e-firm-session")
    phone.fill("input[name=password]", PASSWORD)
    phone.click("form[action='/login'] button[type=submit]")
    phone.wait_for_load_state("networkidle")
    assert phone.url.endswith("/enterprise/report")  # "#restore" is dropped once used
    assert phone.input_value("textarea[name=description]") == TYPED
    assert phone.input_value("input[name=department_said]") == "区市场监管局"
    assert phone.input_value("input[name=contact]") == "029-88886666"
    assert phone.locator(".flash.restored").is_visible()
    screenshot(phone, "restored-form")
    assert reports(live_session) == before

    phone.click("#report-form button[type=submit]")
    phone.wait_for_load_state("networkidle")
    assert reports(live_session) == before + 1
