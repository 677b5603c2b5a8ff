"""The browser session: the API's JWT in an HttpOnly cookie, its CSRF token, the login
form's own CSRF cookie and the known-device cookie.

A page session ends after `session_idle_minutes` without a request and `session_absolute_hours`
after the login, whatever the activity: every authenticated request from the browser (a page,
or a page script calling the API) renews the cookie, so an inspector on a three-hour visit
keeps working, and a session left alone ends.

A page's scripts call the JSON API with this cookie instead of a Bearer header; an unsafe
method sent that way must carry the CSRF token in the X-CSRF-Token header, or as the `csrf`
field of a form. The token is an HMAC of the session's id (kept across renewals, so a form
opened before a renewal still posts), needs no storage and ends with the session.

The login form has a CSRF token of its own (a random cookie set by the login page, and its
HMAC in the form): a cross-site page cannot log a victim into the attacker's account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

import jwt
from fastapi import Request, Response

from checkonce.auth.models import User
from checkonce.auth.service import Principal, issue_token

SESSION_COOKIE = "checkonce_session"
LOGIN_COOKIE = "checkonce_login"
DEVICE_COOKIE = "checkonce_device"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# An active session is re-signed at most this often (not on every request).
RENEW_EVERY = dt.timedelta(seconds=60)
DEVICE_DAYS = 365


def _mac(request: Request, label: bytes, value: str) -> str:
    secret = request.app.state.settings.secret_key.encode()
    return hmac.new(secret, label + value.encode(), hashlib.sha256).hexdigest()


def _session_key(cookie: str) -> str:
    """The part of a session cookie its CSRF token is bound to: the session id when the
    token has one (it survives renewals), else the cookie itself."""
    try:
        sid = jwt.decode(cookie, options={"verify_signature": False}).get("sid")
    except jwt.PyJWTError:
        sid = None
    return f"sid:{sid}" if sid else cookie


def csrf_token(request: Request) -> str:
    """The CSRF token of this request's session ("" when there is no session cookie). A
    session renewed during this request keeps its id, so the token stays the same."""
    session = request.cookies.get(SESSION_COOKIE, "")
    if not session:
        return ""
    return _mac(request, b"csrf:", _session_key(session))


def csrf_ok(request: Request, sent: str | None) -> bool:
    """Whether `sent` is this session's CSRF token."""
    expected = csrf_token(request)
    return bool(expected) and bool(sent) and hmac.compare_digest(expected, sent or "")


def cookie_secure(request: Request) -> bool:
    """Secure cookies when the browser reached us over HTTPS (behind a proxy, uvicorn's
    --proxy-headers/--forwarded-allow-ips make X-Forwarded-Proto the request's scheme)."""
    return request.url.scheme == "https"


# --- page sessions -----------------------------------------------------------------------


def session_limits(request: Request) -> tuple[dt.timedelta, dt.timedelta]:
    settings = request.app.state.settings
    return (
        dt.timedelta(minutes=settings.session_idle_minutes),
        dt.timedelta(hours=settings.session_absolute_hours),
    )


def session_token(
    request: Request,
    user: User,
    *,
    now: dt.datetime,
    auth_time: int | None = None,
    session_id: str | None = None,
) -> tuple[str, int]:
    """(token, cookie max-age in seconds) of a page session: valid for the idle timeout from
    now, never past the absolute limit counted from the login (`auth_time`)."""
    idle, absolute = session_limits(request)
    auth_time = auth_time if auth_time is not None else int(now.timestamp())
    not_after = auth_time + int(absolute.total_seconds())
    token = issue_token(
        user,
        secret=request.app.state.settings.secret_key,
        now=now,
        minutes=idle.total_seconds() / 60,
        auth_time=auth_time,
        not_after=not_after,
        session_id=session_id or secrets.token_urlsafe(16),
    )
    return token, max(0, not_after - int(now.timestamp()))


def new_session(request: Request, user: User) -> tuple[str, int]:
    """A page session starting now (a login)."""
    return session_token(request, user, now=dt.datetime.now(dt.UTC))


def renew_if_due(request: Request, user: User, principal: Principal) -> None:
    """Activity keeps the session alive: re-sign it (same login time and id) when the last
    signature is older than RENEW_EVERY. The response carries the new cookie."""
    now = dt.datetime.now(dt.UTC)
    issued = principal.issued_at or 0
    if now.timestamp() - issued < RENEW_EVERY.total_seconds():
        return
    auth_time = principal.auth_time if principal.auth_time is not None else issued
    request.state.renewed_session = session_token(
        request,
        user,
        now=now,
        auth_time=auth_time,
        session_id=principal.session_id or _session_key(request.cookies.get(SESSION_COOKIE, "")),
    )


def set_session(response: Response, token: str, *, max_age: int, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


# --- the login form's CSRF token ---------------------------------------------------------


def login_nonce(request: Request) -> tuple[str, bool]:
    """(the login CSRF cookie's value, whether it is new and must be set)."""
    current = request.cookies.get(LOGIN_COOKIE, "")
    if 16 <= len(current) <= 64 and current.isalnum():
        return current, False
    return secrets.token_hex(16), True


def login_csrf(request: Request, nonce: str) -> str:
    return _mac(request, b"login:", nonce)


def login_csrf_ok(request: Request, sent: str) -> bool:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    return bool(nonce) and bool(sent) and hmac.compare_digest(login_csrf(request, nonce), sent)


def set_login_cookie(response: Response, nonce: str, *, secure: bool) -> None:
    response.set_cookie(
        LOGIN_COOKIE, nonce, max_age=12 * 3600, httponly=True, samesite="strict", secure=secure
    )


def set_device_cookie(response: Response, value: str, *, secure: bool) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
