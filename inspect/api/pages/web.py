"""What every server-rendered page shares: templates with translations, the logged-in user
from the session cookie, who may open a page, CSRF protection for forms and scripts.

Pages log in with the same JWT as the API, kept in an HttpOnly cookie. A page declares who may
open it with `PageAllow(...)` (or `PUBLIC` from checkonce.api.deps); the page access test reads
these declarations from the routes. An anonymous visitor is sent to the login page and comes
back afterwards; a logged-in user of another role gets a 403 page.

Scripts on the pages call the JSON API with the same cookie (checkonce.api.cookies: unsafe
methods need the page's CSRF token; forms send it as the `csrf` field).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from checkonce.api.cookies import (
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_ok,
    csrf_token,
    renew_if_due,
    set_session,
)
from checkonce.api.deps import Allow, SessionDep
from checkonce.api.pages.i18n import LANGUAGES, translate
from checkonce.auth.models import ROLE_NAMES
from checkonce.auth.service import AuthError, Forbidden, Principal, current_user, read_token

LANG_COOKIE = "checkonce_lang"
FLASH_COOKIE = "checkonce_flash"

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


@pass_context
def _gettext(context, message: str) -> str:
    return translate(context.get("lang", "zh"), message)


@pass_context
def _ngettext(context, singular: str, plural: str, n: int) -> str:
    return translate(context.get("lang", "zh"), singular if n == 1 else plural)


@lru_cache(maxsize=1)
def _zone() -> ZoneInfo:
    from checkonce.policy import jurisdiction_policy

    return ZoneInfo(jurisdiction_policy().jurisdiction.timezone)


def local_time(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored moment in the jurisdiction's time (Beijing time for Xi'an), for people. SQLite
    hands back naive datetimes: they were stored in UTC."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(_zone()).strftime(fmt)


def _make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=TEMPLATE_DIR)
    env = templates.env
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    env.globals["ROLE_NAMES"] = ROLE_NAMES
    env.globals["LANGUAGES"] = LANGUAGES
    env.filters["local_time"] = local_time
    env.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int) else n
    env.filters["percent"] = lambda x, digits=1: "–" if x is None else f"{100 * x:.{digits}f}%"
    return templates


TEMPLATES = _make_templates()


def language(request: Request) -> str:
    """The page language: ?lang= wins, then the cookie, then Chinese."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
    return asked if asked in LANGUAGES else "zh"


def session_principal(request: Request) -> Principal | None:
    """The principal of the session cookie, None when there is no valid one."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return read_token(token, secret=request.app.state.settings.secret_key)
    except AuthError:
        return None


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    principal: Principal | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page: the template with the language, the user, the CSRF token and flash message."""
    lang = language(request)
    base = {
        "lang": lang,
        "user": principal if principal is not None else session_principal(request),
        "csrf": csrf_token(request),
        "flash": unquote(request.cookies.get(FLASH_COOKIE, "")),
        "path": request.url.path,
        "query": str(request.url.query),
    }
    response = TEMPLATES.TemplateResponse(
        request, template, {**base, **(context or {})}, status_code=status_code, headers=headers
    )
    response.headers.setdefault("Cache-Control", "no-store")
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def redirect(url: str, message: str = "") -> RedirectResponse:
    """303 to `url` (after a POST), with an optional message shown once on the next page.

    The message travels in a cookie, not the URL, so nobody can put words on our pages with a
    crafted link."""
    response = RedirectResponse(url, status_code=303)
    if message:
        response.set_cookie(FLASH_COOKIE, quote(message), max_age=60, httponly=True, samesite="lax")
    return response


class LoginRequired(Exception):
    """No valid session: the page handler sends the visitor to the login page."""


class PageForbidden(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PageAllow(Allow):
    """Dependency of a page: the session's user must hold one of `roles`.

    The user is re-read from the database (a deactivated account, or one whose password or
    role changed, loses its pages at once, not when its cookie ends) and the session is
    renewed: it ends only after the idle timeout without requests, or at its absolute
    limit."""

    def __call__(self, request: Request, db: SessionDep) -> Principal:  # type: ignore[override]
        principal = session_principal(request)
        if principal is None:
            raise LoginRequired
        try:
            user = current_user(db, principal)
        except AuthError:
            raise LoginRequired from None
        if principal.role not in self.roles:
            raise PageForbidden("您的账号无权打开此页面")
        renew_if_due(request, user, principal)
        return principal


def require_csrf(request: Request, csrf: Annotated[str, Form()] = "") -> None:
    """Dependency of a page's POST handler: the form's csrf field must match the session.
    Without a valid session (it expired while the form was open) the visitor logs in first
    and comes back to the form, which refills itself (static/app.js)."""
    if session_principal(request) is None:
        raise LoginRequired
    if not csrf_ok(request, csrf):
        raise PageForbidden("页面已过期或来源不明，请刷新页面后重试")


CsrfChecked = Depends(require_csrf)


__all__ = [
    "CSRF_HEADER",
    "TEMPLATES",
    "CsrfChecked",
    "Forbidden",
    "LoginRequired",
    "PageAllow",
    "PageForbidden",
    "csrf_ok",
    "csrf_token",
    "redirect",
    "render",
    "session_principal",
    "set_session",
]
