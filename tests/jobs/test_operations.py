"""/healthz, /readyz and /metrics; request ids and per-request JSON logs."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from checkonce.api.app import create_app
from checkonce.config import Settings
from checkonce.db import make_engine
from checkonce.jobs import metrics
from checkonce.jobs.logs import JsonFormatter
from checkonce.jobs.runner import attach_runner
from checkonce.migrations import head_revision, upgrade
from tests.jobs.conftest import SECRET


def settings(**overrides) -> Settings:
    return Settings(env="test", secret_key=SECRET, **overrides)


@pytest.fixture
def sqlite_at(tmp_path):
    """An engine on a new SQLite database migrated to `revision`."""
    engines = []

    def make(revision: str = "head"):
        url = f"sqlite:///{tmp_path / f'ops-{len(engines)}.db'}"
        upgrade(url, revision)
        engines.append(make_engine(url))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


def test_healthz_answers_without_touching_anything(sqlite_at):
    app = create_app(settings(), engine=sqlite_at())
    with TestClient(app) as client:
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    paths = set(app.openapi()["paths"])
    assert not {"/healthz", "/readyz", "/metrics"} & paths


def test_readyz_with_a_job_runner_is_ready(sqlite_at):
    app = create_app(settings(jobs_retry_seconds=0.5), engine=sqlite_at())
    attach_runner(app, retry_seconds=0.5)
    with TestClient(app) as client:  # the lifespan starts the runner
        response = client.get("/readyz")
        assert response.status_code == 200, response.json()
        assert response.json() == {
            "status": "ok",
            "database": "ok",
            "migrations": "current",
            "job_runner": "runner",
        }
    assert app.state.job_runner.role == "stopped"  # shut down with the app


def test_readyz_fails_when_migrations_are_not_current(sqlite_at):
    app = create_app(settings(jobs_enabled=False), engine=sqlite_at("0006_findings"))
    with TestClient(app) as client:
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "unavailable"
    assert body["migrations"] == "behind" and head_revision() in body["reason"]


def test_readyz_fails_without_a_known_job_runner_unless_jobs_are_disabled(sqlite_at):
    engine = sqlite_at()
    with TestClient(create_app(settings(), engine=engine)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["job_runner"] == "unknown"
    with TestClient(create_app(settings(jobs_enabled=False), engine=engine)) as client:
        response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["job_runner"] == "disabled"


def test_readyz_fails_when_the_database_is_unreachable(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    (tmp_path / "missing").rmdir()  # make_engine created the folder; take it away
    with TestClient(create_app(settings(jobs_enabled=False), engine=engine)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["database"] == "unreachable"


def test_request_ids_are_echoed_or_made_and_logged_as_json(sqlite_at, caplog):
    app = create_app(settings(jobs_enabled=False), engine=sqlite_at())
    with TestClient(app) as client, caplog.at_level(logging.INFO, logger="checkonce.http"):
        given = client.get("/healthz", headers={"X-Request-ID": "req-12345678"})
        made = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert given.headers["x-request-id"] == "req-12345678"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    lines = [
        json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "checkonce.http"
    ]
    assert [line["request_id"] for line in lines] == ["req-12345678", made.headers["x-request-id"]]
    assert lines[0]["event"] == "http.request" and lines[0]["route"] == "/healthz"
    assert lines[0]["status"] == 200 and lines[0]["duration_ms"] >= 0


def test_metrics_expose_latency_by_route_template_check_ins_and_solver_runs(sqlite_at):
    app = create_app(settings(jobs_enabled=False, metrics_allow="testclient"), engine=sqlite_at())
    before = metrics.CHECKINS.labels(outcome="unplanned")._value.get()
    metrics.record_checkin("unplanned")
    metrics.observe_solve(1.5)
    with TestClient(app) as client:
        client.get("/api/v1/visits/123456")
        client.get("/api/v1/visits/654321")
        client.get("/no/such/page")
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    # Two different visit ids, one series: the route template, never the raw path.
    series = re.findall(
        r'checkonce_http_request_duration_seconds_count\{method="GET",route="([^"]+)",status="(\d+)"\} (\S+)',
        text,
    )
    counts = {(route, status): float(n) for route, status, n in series}
    assert counts[("/api/v1/visits/{visit_id}", "401")] >= 2
    assert ("/no/such/page", "404") not in counts and counts[("unmatched", "404")] >= 1
    assert "123456" not in text
    assert f'checkonce_checkins_total{{outcome="unplanned"}} {before + 1}' in text
    assert "checkonce_solver_runs_total" in text and "checkonce_solver_seconds_bucket" in text
    assert "checkonce_job_runs_total" in text or "checkonce_job_duration_seconds" in text


def test_made_up_methods_add_no_series_and_metrics_answer_only_allowed_addresses(sqlite_at):
    # The attack: thousands of junk method names, each a new series (78 KB grew to 11 MB).
    app = create_app(settings(jobs_enabled=False, metrics_allow="testclient"), engine=sqlite_at())
    with TestClient(app) as client:
        client.get("/healthz")
        before = client.get("/metrics").text
        for n in range(300):
            client.request(f"JUNK{n}", f"/junk/{n}")
            client.request("GET", "/healthz", headers={"X-Request-ID": f"r{n}"})
        after = client.get("/metrics").text
    assert "JUNK" not in after and "/junk/" not in after
    assert 'method="other",route="unmatched"' in after or 'method="other",route="other"' in after
    series = lambda text: {  # noqa: E731
        line.rsplit(" ", 1)[0] for line in text.splitlines() if line.startswith("checkonce_http")
    }
    assert len(series(after) - series(before)) <= 40  # the "other" method's few series
    assert len(after) < len(before) + 20_000
    refused = TestClient(create_app(settings(jobs_enabled=False), engine=sqlite_at())).get(
        "/metrics"
    )
    assert refused.status_code == 403 and "无权" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    ("client", "allowed"),
    [("127.0.0.1", True), ("10.1.2.3", True), ("10.2.0.1", False), ("::1", True), ("x", False)],
)
def test_metrics_allow_list(client, allowed):
    from checkonce.jobs.web import metrics_allowed

    assert metrics_allowed(client, "127.0.0.1/32, ::1, 10.1.0.0/16") is allowed
