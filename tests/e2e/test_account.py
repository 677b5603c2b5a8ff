"""The shared pages in a real browser: login, the account page, the English switch."""

from __future__ import annotations

from checkonce.auth.service import create_user
from tests import factories as f
from tests.e2e.conftest import PASSWORD, log_in


def test_login_account_and_english(
    desktop, phone, live_server, live_session, screenshot, outside_requests
):
    create_user(
        db_session=live_session,
        actor=f.SETUP,
        username="e2e-coord",
        password=PASSWORD,
        role="coordinator",
        display_name="协调员甲",
    )
    live_session.commit()

    for page, size in ((phone, "phone"), (desktop, "desktop")):
        page.goto(f"{live_server}/login")
        screenshot(page, f"login-{size}")
        page.fill("input[name=username]", "e2e-coord")
        page.fill("input[name=password]", "wrong password 1")
        page.click("form[action='/login'] button[type=submit]")
        assert "用户名或密码错误" in page.locator("[role=alert]").inner_text()

    log_in(desktop, live_server, "e2e-coord", next_path="/account")
    assert desktop.url.endswith("/account")
    assert "协调员甲" in desktop.content()
    screenshot(desktop, "account-desktop")
    desktop.click("a[hreflang=en]")
    assert desktop.locator("h1").first.inner_text() == "My account"
    screenshot(desktop, "account-english")
    assert not outside_requests, outside_requests
