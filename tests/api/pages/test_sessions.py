"""Page sessions that neither expire mid-work nor outlive their owner: an idle timeout
renewed by activity, an absolute limit, a form sent after expiry leads back to the form,
and every token dies at once when its account changes. Logins: CSRF-protected, backed off
per account and address without locking the owner out of a known device, audited."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import unquote

import jwt
import pytest
from sqlalchemy import select

from checkonce.api.cookies import DEVICE_COOKIE, LOGIN_COOKIE, SESSION_COOKIE
from checkonce.audit.models import AuditRecord
from checkonce.auth.service import (
    MAX_FAILURES_PER_CLIENT,
    MAX_FAILURES_PER_USER,
    WeakPassword,
    create_user,
    issue_token,
)
from tests import factories as f
from tests.api.conftest import PASSWORD, SECRET
from tests.api.pages.conftest import csrf_of, post_login

IDLE = 30 * 60
ABSOLUTE = 12 * 3600


def session_cookie(user, idle_ago: int, login_ago: int, sid: str = "sid-1") -> str:
    """A page session whose last request was `idle_ago` seconds ago, logged in `login_ago`
    seconds ago (as the login and its renewals sign it)."""
    now = dt.datetime.now(dt.UTC)
    last = now - dt.timedelta(seconds=idle_ago)
    auth = int((now - dt.timedelta(seconds=login_ago)).timestamp())
    return issue_token(
        user,
        secret=SECRET,
        now=last,
        minutes=IDLE / 60,
        auth_time=auth,
        not_after=auth + ABSOLUTE,
        session_id=sid,
    )


def claims(token: str) -> dict:
    return jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})


def renewed_cookie(response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{SESSION_COOKIE}="):
            return header.split(";", 1)[0].split("=", 1)[1]
    return None


def test_activity_renews_the_idle_timeout_and_keeps_the_csrf_token(client, users):
    # Three hours into a visit, 25 minutes since the last page: still in, and renewed.
    client.cookies.set(SESSION_COOKIE, session_cookie(users["inspector"], 25 * 60, 3 * 3600))
    before = csrf_of(client)
    page = client.get("/account", follow_redirects=False)
    assert page.status_code == 200
    token = renewed_cookie(page)
    assert token is not None, "an active session must be renewed"
    now = time.time()
    renewed = claims(token)
    assert IDLE - 60 <= renewed["exp"] - now <= IDLE
    assert renewed["sid"] == "sid-1" and now - renewed["auth"] >= 3 * 3600 - 5
    client.cookies.set(SESSION_COOKIE, token)
    assert csrf_of(client) == before  # a form opened before the renewal still posts


def test_the_absolute_limit_holds_whatever_the_activity(client, users):
    # 11 h 59 min 30 s after the login: a renewal may not reach past 12 h.
    client.cookies.set(SESSION_COOKIE, session_cookie(users["inspector"], 120, ABSOLUTE - 30))
    page = client.get("/account", follow_redirects=False)
    renewed = claims(renewed_cookie(page))
    assert renewed["exp"] == renewed["auth"] + ABSOLUTE
    assert renewed["exp"] - time.time() <= 30
    max_age = [h for h in page.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)]
    assert "Max-Age=" in max_age[0] and int(max_age[0].split("Max-Age=")[1].split(";")[0]) <= 30


def test_an_idle_session_ends(client, users):
    client.cookies.set(SESSION_COOKIE, session_cookie(users["inspector"], IDLE + 5, IDLE + 60))
    page = client.get("/account", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/account"


def test_a_form_sent_after_expiry_leads_to_login_and_back_to_the_form(client, users):
    client.cookies.set(SESSION_COOKIE, session_cookie(users["inspector"], IDLE + 5, 3 * 3600))
    sent = client.post(
        "/inspector/visits/7/tasks/3/result",
        data={"result": "qualified", "note": "typed for an hour", "csrf": "stale"},
        headers={"Referer": "http://testserver/inspector/visits/7"},
        follow_redirects=False,
    )
    # Not a 403 that loses the data: log in, then back to the form's page to refill it.
    assert sent.status_code == 303
    assert sent.headers["location"] == "/login?next=/inspector/visits/7%23restore"
    flash = [h for h in sent.headers.get_list("set-cookie") if h.startswith("checkonce_flash")]
    assert "登录已超时" in unquote(flash[0])
    client.cookies.clear()
    back = post_login(
        client,
        {"username": "insp1", "password": PASSWORD, "next": "/inspector/visits/7#restore"},
        follow_redirects=False,
    )
    assert back.status_code == 303 and back.headers["location"] == "/inspector/visits/7#restore"


def test_a_form_from_another_site_after_expiry_goes_home_not_there(client, users):
    client.cookies.set(SESSION_COOKIE, session_cookie(users["inspector"], IDLE + 5, IDLE + 60))
    sent = client.post(
        "/account/password",
        data={"csrf": "x"},
        headers={"Referer": "https://evil.example/inspector"},
        follow_redirects=False,
    )
    assert sent.headers["location"] == "/login?next=/%23restore"


@pytest.mark.parametrize("change", ["deactivate", "password", "role"])
def test_tokens_and_sessions_die_at_once_when_the_account_changes(
    client, users, headers, db_session, change
):
    user = users["coordinator"]
    client.cookies.set(SESSION_COOKIE, session_cookie(user, 10, 600))
    assert client.get("/api/v1/auth/me", headers=headers["coordinator"]).status_code == 200
    assert client.get("/coordinator/plans", follow_redirects=False).status_code == 200
    if change == "deactivate":
        user.active = False
    elif change == "password":
        from checkonce.auth.service import change_password

        change_password(
            db_session=db_session,
            user_id=user.id,
            current=PASSWORD,
            new="another long passphrase 42",
            repeated="another long passphrase 42",
            actor=f.SETUP,
        )
    else:
        user.role = "admin"
    db_session.flush()
    refused = client.get("/api/v1/auth/me", headers=headers["coordinator"])
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_revoked"
    client.cookies.set(SESSION_COOKIE, session_cookie(user, 10, 600))  # the old session
    client.cookies.set(SESSION_COOKIE, headers["coordinator"]["Authorization"][7:])
    page = client.get("/coordinator/plans", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_a_new_token_after_the_change_works(client, users, db_session):
    user = users["bureau"]
    user.active = False
    db_session.flush()
    user.active = True
    db_session.flush()
    fresh = {"Authorization": f"Bearer {issue_token(user, secret=SECRET)}"}
    assert client.get("/api/v1/auth/me", headers=fresh).status_code == 200


# ------------------------------------------------------------------------------- logins


def test_login_from_another_site_is_refused(client, users):
    # A cross-site form carries no token (the login cookie is SameSite=Strict).
    forged = client.post(
        "/login", data={"username": "insp1", "password": PASSWORD}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    client.cookies.set(LOGIN_COOKIE, "a" * 32)
    wrong = client.post(
        "/login",
        data={"username": "insp1", "password": PASSWORD, "csrf": "0" * 64},
        follow_redirects=False,
    )
    assert wrong.status_code == 403 and "来源不明" in wrong.text


def fail(client, username: str, times: int):
    for _ in range(times):
        post_login(client, {"username": username, "password": "not the password"})


def test_failures_elsewhere_never_lock_the_owner_out_of_a_known_device(client, users):
    ok = post_login(client, {"username": "insp1", "password": PASSWORD}, follow_redirects=False)
    device = ok.cookies.get(DEVICE_COOKIE) or client.cookies.get(DEVICE_COOKIE)
    assert device and device.startswith(f"{users['inspector'].id}.")
    # An attacker on another browser: backed off after MAX_FAILURES_PER_USER tries.
    client.cookies.clear()
    fail(client, "insp1", MAX_FAILURES_PER_USER)
    slowed = post_login(client, {"username": "insp1", "password": PASSWORD})
    assert slowed.status_code == 429 and "后再试" in slowed.text
    assert int(slowed.headers["Retry-After"]) > 0
    # The owner, on the phone it used before, gets in at once.
    client.cookies.clear()
    client.cookies.set(DEVICE_COOKIE, device)
    mine = post_login(client, {"username": "insp1", "password": PASSWORD}, follow_redirects=False)
    assert mine.status_code == 303


def test_a_device_cookie_of_another_account_or_forged_is_no_help(client, users):
    ok = post_login(client, {"username": "firm1", "password": PASSWORD}, follow_redirects=False)
    firm_device = client.cookies.get(DEVICE_COOKIE)
    assert ok.status_code == 303 and firm_device
    client.cookies.clear()
    fail(client, "insp1", MAX_FAILURES_PER_USER)
    for cookie in (firm_device, f"{users['inspector'].id}.abc.{'0' * 32}"):
        client.cookies.clear()
        client.cookies.set(DEVICE_COOKIE, cookie)
        refused = post_login(client, {"username": "insp1", "password": PASSWORD})
        assert refused.status_code == 429, cookie


def test_one_address_is_backed_off_but_its_known_devices_are_not(client, users, db_session):
    # Failures against many accounts from one office address (a NAT).
    from checkonce.auth.models import LoginAttempt

    now = dt.datetime.now(dt.UTC)
    for i in range(MAX_FAILURES_PER_CLIENT):
        db_session.add(
            LoginAttempt(username=f"guess{i}", client="testclient", at=now, success=False)
        )
    db_session.flush()
    slowed = post_login(client, {"username": "samr1", "password": PASSWORD})
    assert slowed.status_code == 429
    from checkonce.auth.service import new_device_cookie

    client.cookies.set(DEVICE_COOKIE, new_device_cookie(users["bureau"], secret=SECRET))
    known = post_login(client, {"username": "samr1", "password": PASSWORD}, follow_redirects=False)
    assert known.status_code == 303


def test_every_failure_is_in_the_audit_trail(client, users, db_session):
    fail(client, "insp1", 2)
    post_login(client, {"username": "nobody", "password": "x"})
    fail(client, "insp1", MAX_FAILURES_PER_USER)  # the last ones are refused by back-off
    post_login(client, {"username": "insp1", "password": PASSWORD}, follow_redirects=False)
    rows = db_session.scalars(
        select(AuditRecord)
        .where(AuditRecord.action.in_(("auth.login_failed", "auth.login")))
        .order_by(AuditRecord.seq)
    ).all()
    failed = [r for r in rows if r.action == "auth.login_failed"]
    assert len(failed) == 2 + 1 + MAX_FAILURES_PER_USER + 1  # the good password, throttled
    assert {r.channel for r in failed} == {"web"}
    assert [r.actor_username for r in failed].count("nobody") == 1
    assert any('"throttled"' in r.body for r in failed)
    assert all('"testclient"' in r.body for r in failed)


def test_api_login_failures_are_audited_and_backed_off(client, users, db_session):
    for _ in range(MAX_FAILURES_PER_USER):
        bad = client.post("/api/v1/auth/token", data={"username": "coord1", "password": "x"})
        assert bad.status_code == 401
    slowed = client.post("/api/v1/auth/token", data={"username": "coord1", "password": PASSWORD})
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) > 0
    count = db_session.scalar(
        select(AuditRecord.seq)
        .where(AuditRecord.action == "auth.login_failed", AuditRecord.channel == "api")
        .order_by(AuditRecord.seq.desc())
    )
    assert count is not None


@pytest.mark.parametrize(
    "password",
    ["aaaaaaaaaa", "1234567890", "password1234", "qwertyuiop", "zhangsan2027", "checkonce2027"],
)
def test_weak_passwords_are_refused(db_session, password):
    with pytest.raises(WeakPassword):
        create_user(
            db_session=db_session,
            actor=f.SETUP,
            username="zhangsan",
            password=password,
            role="admin",
        )


def test_a_strong_password_is_accepted(db_session):
    user = create_user(
        db_session=db_session,
        actor=f.SETUP,
        username="lisi",
        password="river lamp 7 orchard",
        role="admin",
    )
    assert user.id
