"""Operations endpoints and middleware: /healthz, /readyz, /metrics, request ids and
per-request logs and latency.

These routes live outside /api (they are for the load balancer and Prometheus, not for
users), carry no data of the domain, and are left out of the OpenAPI document.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from checkonce.jobs import metrics
from checkonce.jobs.logs import REQUEST_ID, request_id_from

log = logging.getLogger("checkonce.http")
router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and serving (nothing else is checked: a liveness probe)."""
    return {"status": "ok"}


@lru_cache(maxsize=1)
def _head() -> str:
    # The migration scripts do not change while the process runs; reading them on every
    # probe costs more than the rest of the check together.
    from checkonce.migrations import head_revision

    return head_revision()


def _readiness(app: FastAPI) -> tuple[bool, dict[str, Any]]:
    from checkonce.migrations import current_revision

    engine = app.state.engine
    checks: dict[str, Any] = {}
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        log.warning("readiness: database unreachable: %s", exc)
        return False, {**checks, "database": "unreachable", "reason": "database unreachable"}
    try:
        current = current_revision(engine) == _head()
    except Exception as exc:
        log.warning("readiness: migration state unreadable: %s", exc)
        current = False
    if not current:
        return False, {
            **checks,
            "migrations": "behind",
            "reason": f"database schema is not at migration head {_head()}",
        }
    checks["migrations"] = "current"
    settings = app.state.settings
    if not getattr(settings, "jobs_enabled", True):
        checks["job_runner"] = "disabled"
        return True, checks
    runner = getattr(app.state, "job_runner", None)
    role = runner.ensure() if runner is not None else None
    if role not in ("runner", "standby"):
        return False, {
            **checks,
            "job_runner": role or "unknown",
            "reason": "no job runner is known for this process",
        }
    checks["job_runner"] = role
    return True, checks


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers, its schema is at migration head, and the job
    runner is known (this process runs the jobs, or another process holds the runner lock).
    503 with the reason otherwise."""
    ok, checks = _readiness(request.app)
    return JSONResponse({"status": "ok" if ok else "unavailable", **checks}, 200 if ok else 503)


def _allowed_networks(setting: str) -> tuple[list, set[str]]:
    networks, names = [], set()
    for entry in (e.strip() for e in setting.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry)  # a host name the server sees as the client (test clients)
    return networks, names


def metrics_allowed(client: str | None, setting: str) -> bool:
    """Whether the client address may read /metrics (setting `metrics_allow`: addresses or
    networks, comma-separated)."""
    if not client:
        return False
    networks, names = _allowed_networks(setting)
    if client in names:
        return True
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in network for network in networks)


@router.get("/metrics")
def prometheus_metrics(request: Request) -> Response:
    """Prometheus text exposition, to the configured addresses only."""
    client = request.client.host if request.client else None
    allow = getattr(request.app.state.settings, "metrics_allow", "127.0.0.1/32,::1/128")
    if not metrics_allowed(client, allow):
        return JSONResponse(
            {"error": {"code": "forbidden", "message": "此地址无权读取运行指标"}}, status_code=403
        )
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)


def route_template(scope) -> str:
    """The matched route's path template with its router prefix ("/api/v1/visits/{visit_id}"),
    or "unmatched". FastAPI versions that keep included routers whole record the effective
    route (with the prefix) in scope["fastapi"]; older ones copy prefixed routes."""
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    template = getattr(effective, "path_format", None) or getattr(effective, "path", None)
    if template:
        return template
    route = scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"


class RequestContextMiddleware:
    """ASGI middleware: a request id per request (X-Request-ID in and out), one JSON access
    log line, and the latency histogram labelled by route template (never by raw path, so
    ids in URLs cannot blow up the number of series; the template is always one of the
    application's routes or "unmatched"), by method and status from known sets."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"x-request-id")
        request_id = request_id_from(raw.decode("latin-1") if raw else None)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            template = route_template(scope)
            metrics.observe_request(scope.get("method", ""), template, status["code"], seconds)
            log.info(
                "request",
                extra={
                    "fields": {
                        "event": "http.request",
                        "request_id": request_id,
                        "method": metrics.bounded_method(scope.get("method", "")),
                        "route": template,
                        "status": status["code"],
                        "duration_ms": round(seconds * 1000, 1),
                    },
                },
            )
            REQUEST_ID.reset(token)


def install(app: FastAPI) -> None:
    """Add the operations routes and the request middleware to `app`."""
    app.include_router(router)
    app.add_middleware(RequestContextMiddleware)
    if not hasattr(app.state, "job_runner"):
        app.state.job_runner = None
