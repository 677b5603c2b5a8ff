"""Server-rendered pages for every user, beside the JSON API: coordinators, bureaus,
inspectors (phone), enterprises (phone) and the public. One module per group of users, each
with a `router`; `install(app)` mounts every such module of this package with the static
files and the page error handlers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from checkonce.api.cookies import SESSION_COOKIE, cookie_secure, set_session
from checkonce.api.pages.web import (
    STATIC_DIR,
    LoginRequired,
    PageForbidden,
    redirect,
    render,
)


def install(app: FastAPI) -> None:
    """Mount the page routers, /static and the handlers that turn a missing login into a
    redirect to the login page and a wrong role into a 403 page."""
    for module in page_modules():
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if request.method in ("GET", "HEAD"):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return redirect(f"/login?next={_quote(target)}")
        # A form sent after the session ended: log in, then back to the form's page, where
        # the page's script puts back what was typed ("#restore", static/app.js).
        page = _same_site_page(request) or "/"
        return redirect(
            f"/login?next={_quote(page + '#restore')}",
            "登录已超时，请重新登录；登录后将回到刚才的页面并恢复已填写的内容",
        )

    @app.exception_handler(PageForbidden)
    async def page_forbidden(request: Request, exc: PageForbidden) -> Response:
        return render(request, "pages/error.html", {"message": exc.message}, status_code=403)

    @app.middleware("http")
    async def renew_session(request: Request, call_next) -> Response:
        response = await call_next(request)
        renewed = getattr(request.state, "renewed_session", None)
        if renewed and SESSION_COOKIE not in response.headers.get("set-cookie", ""):
            token, max_age = renewed
            set_session(response, token, max_age=max_age, secure=cookie_secure(request))
        return response


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _same_site_page(request: Request) -> str | None:
    """The path (and query) of the page a form was sent from, when it is one of ours."""
    from urllib.parse import urlsplit

    referer = request.headers.get("referer", "")
    if not referer:
        return None
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc != request.url.netloc:
        return None
    from checkonce.api.pages.account import safe_next

    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def page_modules() -> list:
    """The modules of this package that define a page `router`, in name order."""
    import pkgutil
    from importlib import import_module

    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = import_module(f"{__name__}.{info.name}")
        if hasattr(module, "router"):
            found.append(module)
    return found
