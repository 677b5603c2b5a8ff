"""The FastAPI application: versioned JSON API under /api/v1, OpenAPI at /docs.

Every error is a JSON body `{"error": {"code", "message"}}` with a Chinese message; domain
errors keep their own status (400/404/409/422/429), validation errors are 422.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from checkonce.config import Settings, get_settings
from checkonce.db import make_engine, session_factory
from checkonce.errors import CheckOnceError, ImportRejected

log = logging.getLogger("checkonce.api")

HTTP_MESSAGES = {
    404: "请求的资源不存在",
    405: "不支持该请求方法",
    401: "请先登录",
    403: "无权访问",
}


def _error(
    status: int,
    code: str,
    message: str,
    details: list | None = None,
    total: int | None = None,
) -> JSONResponse:
    body: dict = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    if total is not None:
        body["total_errors"] = total  # details lists the first ones only
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _field_path(loc: tuple) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path"))


def _is_page(request: Request) -> bool:
    """A request for a page (an HTML answer) rather than the JSON API or operations."""
    path = request.url.path
    return not path.startswith(("/api/", "/healthz", "/readyz", "/metrics", "/docs", "/openapi"))


def error_page(request: Request, status: int, message: str) -> Response:
    from checkonce.api.pages.web import render

    return render(request, "pages/error.html", {"message": message}, status_code=status)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """An application bound to `engine` (default: the configured database)."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    app = FastAPI(
        title="CheckOnce 综合查一次",
        version="1",
        description="跨部门联合检查：计划、双随机抽取、合并排程、扫码入企、结果公开。",
        docs_url=None,  # served by checkonce.api.docs from installed files, not a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)

    @app.exception_handler(CheckOnceError)
    async def domain_error(request: Request, exc: CheckOnceError) -> Response:
        if _is_page(request):
            return error_page(request, exc.status, exc.message)
        details = total = None
        if isinstance(exc, ImportRejected):
            details = [{"row": e.row, "field": e.field, "reason": e.reason} for e in exc.errors]
            total = exc.total
        response = _error(exc.status, exc.code, exc.message, details, total)
        retry_after = getattr(exc, "retry_after", 0)
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        details = [
            {"field": _field_path(tuple(e.get("loc", ()))), "reason": e.get("msg", "")}
            for e in exc.errors()
        ]
        fields = "、".join(d["field"] for d in details if d["field"]) or "请求"
        if _is_page(request):
            return error_page(request, 422, f"输入有误：{fields}")
        return _error(422, "invalid_request", f"请求参数有误：{fields}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
        if _is_page(request):
            return error_page(request, exc.status_code, message)
        return _error(exc.status_code, f"http_{exc.status_code}", message)

    @app.exception_handler(DataError)
    async def data_error(_request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the schema let through (a NUL character, a number
        # out of a column's range): the caller's input, not a server fault.
        log.info("database refused a value: %s", exc.orig)
        return _error(422, "invalid_value", "输入值无法保存：含有不允许的字符或超出范围")

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _error(500, "internal", "系统内部错误，请稍后再试或联系管理员")

    from checkonce.api.routers import (
        alerts,
        audit,
        auth,
        checkins,
        codes,
        documents,
        draws,
        fees,
        findings,
        maps,
        plans,
        registry,
        results,
        schedules,
        visits,
    )

    for module in (auth, registry, plans, draws, schedules, visits, checkins, codes, alerts, maps):
        app.include_router(module.router, prefix="/api/v1")
    for module in (findings, fees, results, audit, documents):
        app.include_router(module.router, prefix="/api/v1")
    from checkonce.maps.assets import VENDOR_URL, vendor_app

    # Before the pages' /static mount: /static/vendor lies under it, and the first matching
    # mount wins (after it, every Leaflet file was a 404 and the maps drew nothing).
    app.mount(VENDOR_URL, vendor_app(), name="vendor")  # Leaflet for map pages, no CDN
    from checkonce.api import docs

    docs.install(app)  # /docs with Swagger UI from the swagger-ui-bundle package
    from checkonce.api import pages

    pages.install(app)  # the server-rendered pages and /static

    from checkonce.jobs import web as operations

    operations.install(app)  # /healthz, /readyz, /metrics; request ids, access logs, latency
    from checkonce.api.security import (
        BODY_OVERHEAD,
        BodyLimitMiddleware,
        SecurityHeadersMiddleware,
        tile_origin,
    )
    from checkonce.maps.base import MapSettings

    app.add_middleware(SecurityHeadersMiddleware, img_sources=tile_origin(MapSettings().tiles))
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=max(settings.upload_max_bytes, settings.photo_max_bytes) + BODY_OVERHEAD,
    )
    return app
