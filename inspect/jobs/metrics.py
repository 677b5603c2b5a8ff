"""Prometheus metrics of the process: request latency by route template, check-ins, solver
runs and their seconds, job runs.

The metric objects are module-level because Prometheus collectors are process-wide by nature
(one registry per process). With `checkonce serve --workers N` every worker is its own
process: `serve` then points PROMETHEUS_MULTIPROC_DIR at a shared folder before the workers
start, and /metrics aggregates all of them (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

REQUEST_SECONDS = Histogram(
    "checkonce_http_request_duration_seconds",
    "HTTP request latency by method, route template and status code.",
    ("method", "route", "status"),
)
CHECKINS = Counter(
    "checkonce_checkins_total",
    "Inspector check-ins recorded (扫码入企), by outcome (planned / unplanned).",
    ("outcome",),
)
SOLVER_RUNS = Counter(
    "checkonce_solver_runs_total", "Schedule solves run (generation and re-plans)."
)
SOLVER_SECONDS = Histogram(
    "checkonce_solver_seconds",
    "Wall-clock seconds of each schedule solve.",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)
JOB_RUNS = Counter(
    "checkonce_job_runs_total", "Background job runs, by job and status.", ("job", "status")
)
JOB_SECONDS = Histogram(
    "checkonce_job_duration_seconds", "Seconds each background job run took.", ("job",)
)


def record_checkin(outcome: str) -> None:
    """Count one stored (not replayed) check-in."""
    CHECKINS.labels(outcome=outcome).inc()


def observe_solve(seconds: float | None) -> None:
    """Count one solver run and its duration."""
    SOLVER_RUNS.inc()
    if seconds is not None:
        SOLVER_SECONDS.observe(float(seconds))


def observe_job(job: str, status: str, seconds: float) -> None:
    JOB_RUNS.labels(job=job, status=status).inc()
    JOB_SECONDS.labels(job=job).observe(seconds)


# Every label value comes from a known set: anything else is "other", so no request can
# add a series (a made-up method name, a path, a status) to what /metrics serves.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
KNOWN_STATUSES = frozenset(
    {200, 201, 202, 204, 301, 302, 303, 304, 307, 308}
    | {400, 401, 403, 404, 405, 409, 413, 415, 422, 429}
    | {500, 502, 503, 504}
)
OTHER = "other"


def bounded_method(method: str) -> str:
    return method if method in KNOWN_METHODS else OTHER


def bounded_status(status: int) -> str:
    return str(status) if status in KNOWN_STATUSES else OTHER


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """One request's latency; `route` is a route template of the application (or
    "unmatched"), never a raw path."""
    REQUEST_SECONDS.labels(
        method=bounded_method(method), route=route, status=bounded_status(status)
    ).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric, aggregated over worker processes if there are."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
