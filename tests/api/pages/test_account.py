"""Logging in and out of the pages, the session cookie, and the cookie on the JSON API."""

from __future__ import annotations

import pytest

from checkonce.api.cookies import SESSION_COOKIE
from tests.api.conftest import PASSWORD
from tests.api.pages.conftest import csrf_of, post_login

LANDING = {
    "admin": "/coordinator",
    "coordinator": "/coordinator",
    "bureau": "/bureau",
    "inspector": "/inspector",
    "enterprise": "/enterprise",
}


@pytest.mark.parametrize("role", sorted(LANDING))
def test_login_lands_on_the_roles_home(client, users, role):
    response = post_login(
        client,
        {"username": users[role].username, "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == LANDING[role]
    cookie = response.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()


def test_wrong_password_shows_the_error_and_sets_no_cookie(client, users):
    response = post_login(client, {"username": "insp1", "password": "wrong password"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_login_returns_to_the_page_asked_for_but_never_to_another_site(client, users):
    form = {"username": "insp1", "password": PASSWORD}
    back = post_login(client, {**form, "next": "/inspector?day=2027-01-04"}, follow_redirects=False)
    assert back.headers["location"] == "/inspector?day=2027-01-04"
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        client.cookies.clear()
        away = post_login(client, {**form, "next": evil}, follow_redirects=False)
        assert away.headers["location"] == "/inspector", evil


def test_anonymous_home_is_the_public_page(client):
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/public"


def test_logout_needs_the_pages_csrf_token(login):
    client = login("inspector")
    refused = client.post("/logout", data={"csrf": "0" * 64}, follow_redirects=False)
    assert refused.status_code == 403
    done = client.post("/logout", data={"csrf": csrf_of(client)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert f'{SESSION_COOKIE}=""' in done.headers["set-cookie"]


def test_the_cookie_works_on_the_api_and_unsafe_calls_need_the_csrf_header(login):
    client = login("coordinator")
    assert client.get("/api/v1/auth/me").json()["role"] == "coordinator"
    body = {"name": "x"}
    without = client.post("/api/v1/plans", json=body)
    assert without.status_code == 403
    assert without.json()["error"]["message"] == "页面已过期或来源不明，请刷新页面后重试"
    with_token = client.post("/api/v1/plans", json=body, headers={"X-CSRF-Token": csrf_of(client)})
    assert with_token.status_code != 403


def test_a_deactivated_user_loses_the_pages_at_once(login, users, db_session):
    client = login("enterprise")
    users["enterprise"].active = False
    db_session.flush()
    response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_an_account_whose_role_changed_logs_in_again(login, users, db_session):
    from checkonce.auth.service import update_user
    from tests import factories as f

    client = login("coordinator")
    assert client.get("/coordinator", follow_redirects=False).status_code == 200
    update_user(
        db_session=db_session,
        actor=f.admin(),
        username=users["coordinator"].username,
        role="bureau",
        department="SAMR",
    )
    response = client.get("/coordinator", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_unknown_page_is_an_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "请求的资源不存在" in response.text


def test_change_password(login, users, client):
    client = login("bureau")
    token = csrf_of(client)
    new = "a new password 2027"
    cases = [
        ({"current": "wrong password", "new": new, "repeated": new}, "当前密码不正确"),
        ({"current": PASSWORD, "new": new, "repeated": new + "x"}, "两次输入的新密码不一致"),
        ({"current": PASSWORD, "new": "short", "repeated": "short"}, "密码至少 10 位"),
        ({"current": PASSWORD, "new": PASSWORD, "repeated": PASSWORD}, "新密码不能与当前密码相同"),
    ]
    for form, message in cases:
        page = client.post("/account/password", data={**form, "csrf": token})
        assert message in page.text, message
    assert client.post("/logout", data={"csrf": token}).status_code == 200
    assert (
        post_login(
            client, {"username": "samr1", "password": PASSWORD}, follow_redirects=False
        ).status_code
        == 303
    )
    token = csrf_of(client)
    done = client.post(
        "/account/password", data={"current": PASSWORD, "new": new, "repeated": new, "csrf": token}
    )
    assert "密码已修改" in done.text
    client.cookies.clear()
    assert (
        post_login(
            client, {"username": "samr1", "password": PASSWORD}, follow_redirects=False
        ).status_code
        == 401
    )
    assert (
        post_login(
            client, {"username": "samr1", "password": new}, follow_redirects=False
        ).status_code
        == 303
    )
