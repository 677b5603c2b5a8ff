"""The browser session: the API's JWT in an HttpOnly cookie, and its CSRF token.

A page's scripts call the JSON API with this cookie instead of a Bearer header; an unsafe
method sent that way must carry the CSRF token (an HMAC of the cookie, so it needs no storage
and ends with the session) in the X-CSRF-Token header, or as the `csrf` field of a form.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

SESSION_COOKIE = "checkonce_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(request: Request) -> str:
    """The CSRF token of this request's session ("" when there is no session cookie)."""
    session = request.cookies.get(SESSION_COOKIE, "")
    if not session:
        return ""
    secret = request.app.state.settings.secret_key.encode()
    return hmac.new(secret, b"csrf:" + session.encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, sent: str | None) -> bool:
    """Whether `sent` is this session's CSRF token."""
    expected = csrf_token(request)
    return bool(expected) and bool(sent) and hmac.compare_digest(expected, sent or "")
