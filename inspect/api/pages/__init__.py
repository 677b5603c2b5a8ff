"""Server-rendered pages for every user, beside the JSON API: coordinators, bureaus,
inspectors (phone), enterprises (phone) and the public. One module per group of users;
`install(app)` mounts them with the static files and the page error handlers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from checkonce.api.pages.web import (
    STATIC_DIR,
    LoginRequired,
    PageForbidden,
    redirect,
    render,
    set_session,
)

PAGE_MODULES = ("account",)


def install(app: FastAPI) -> None:
    """Mount the page routers, /static and the handlers that turn a missing login into a
    redirect to the login page and a wrong role into a 403 page."""
    from importlib import import_module

    for name in PAGE_MODULES:
        app.include_router(import_module(f"checkonce.api.pages.{name}").router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(f"/login?next={_quote(target)}")

    @app.exception_handler(PageForbidden)
    async def page_forbidden(request: Request, exc: PageForbidden) -> Response:
        return render(request, "pages/error.html", {"message": exc.message}, status_code=403)

    @app.middleware("http")
    async def renew_session(request: Request, call_next) -> Response:
        response = await call_next(request)
        renewed = getattr(request.state, "renewed_session", None)
        if renewed:
            set_session(response, renewed, secure=request.url.scheme == "https")
        return response


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
