"""Server-rendered pages for every user, beside the JSON API: coordinators, bureaus,
inspectors (phone), enterprises (phone) and the public. One module per group of users, each
with a `router`; `install(app)` mounts every such module of this package with the static
files and the page error handlers."""

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


def install(app: FastAPI) -> None:
    """Mount the page routers, /static and the handlers that turn a missing login into a
    redirect to the login page and a wrong role into a 403 page."""
    for module in page_modules():
        app.include_router(module.router)
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
