"""`checkonce jobs list|run` and `checkonce serve` as an operator runs them."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def environment(tmp_path: Path, user: str | None = None, **extra: str) -> dict[str, str]:
    from tests.cli_accounts import cli_env

    return {
        **{k: v for k, v in os.environ.items() if k != "CHECKONCE_TOKEN"},
        **cli_env(tmp_path, f"sqlite:///{tmp_path / 'jobs.db'}", user),
        "CHECKONCE_NOTIFICATION_CHANNEL": "database",
        "COLUMNS": "220",
        **extra,
    }


def checkonce(tmp_path: Path, *args: str, user: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "checkonce", *args],
        cwd=tmp_path,
        env=environment(tmp_path, user),
        capture_output=True,
        text=True,
        timeout=300,
    )


def runs(tmp_path: Path) -> list[tuple]:
    with sqlite3.connect(tmp_path / "jobs.db") as db:
        return db.execute(
            "SELECT name, trigger, status, for_day FROM job_run ORDER BY id"
        ).fetchall()


def test_jobs_list_and_run_by_hand(tmp_path):
    listed = checkonce(tmp_path, "jobs", "list")
    assert listed.returncode == 0, listed.stderr
    for name in ("missed_visit_sweep", "next_workday", "certificate_expiry", "publicity_watch"):
        assert name in listed.stdout
    assert "day_of_week=mon hour=8" in listed.stdout and "仅工作日" in listed.stdout

    from tests.cli_accounts import make_account

    make_account(f"sqlite:///{tmp_path / 'jobs.db'}", "ops-admin", "admin")
    anonymous = checkonce(tmp_path, "jobs", "run", "certificate_expiry")
    assert anonymous.returncode == 1 and "checkonce login" in anonymous.stderr
    ran = checkonce(
        tmp_path, "jobs", "run", "certificate_expiry", "--now", "2026-11-23T08:00", user="ops-admin"
    )
    assert ran.returncode == 0, ran.stderr
    assert "certificate_expiry" in ran.stdout and "成功" in ran.stdout

    holiday = checkonce(
        tmp_path,
        "jobs",
        "run",
        "missed_visit_sweep",
        "--now",
        "2026-10-01T19:00",
        user="ops-admin",
    )
    assert holiday.returncode == 0 and "跳过" in holiday.stdout and "不是工作日" in holiday.stdout

    assert runs(tmp_path) == [
        ("certificate_expiry", "manual", "ok", "2026-11-23"),
        ("missed_visit_sweep", "manual", "skipped", "2026-10-01"),
    ]
    listed = checkonce(tmp_path, "jobs", "list")
    assert "skipped" in listed.stdout and "ok" in listed.stdout


def test_jobs_run_refuses_unknown_jobs_and_bad_times(tmp_path):
    unknown = checkonce(tmp_path, "jobs", "run", "no_such_job")
    assert unknown.returncode == 1 and "没有名为 no_such_job 的后台任务" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    bad = checkonce(tmp_path, "jobs", "run", "next_workday", "--now", "yesterday")
    assert bad.returncode == 1 and "无法识别" in bad.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.slow
def test_serve_with_two_workers_has_exactly_one_job_runner(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "checkonce",
            "serve",
            "--dev",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=tmp_path,
        env=environment(tmp_path, CHECKONCE_JOBS_RETRY_SECONDS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Generous: three interpreters import the whole application, on a busy CI machine too.
        deadline = time.monotonic() + 240
        ready = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = get(f"{base}/readyz")
                if ready[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        if ready is None or ready[0] != 200:
            server.kill()
            pytest.fail(f"server never became ready ({ready}): {server.communicate()[1][-3000:]}")
        assert json.loads(ready[1])["job_runner"] in ("runner", "standby")
        assert get(f"{base}/healthz") == (200, '{"status":"ok"}')
        for _ in range(6):
            get(f"{base}/healthz")
        status, text = get(f"{base}/metrics")
        assert status == 200 and 'route="/healthz"' in text
        time.sleep(2)  # both workers are up and have tried the runner lock
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, stderr = server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    started = [line for line in lines if line.get("event") == "jobs.runner"]
    assert len(started) == 1, stderr[-3000:]
    assert set(started[0]["jobs"]) >= {
        "missed_visit_sweep",
        "next_workday",
        "certificate_expiry",
        "publicity_watch",
    }
    requests = [line for line in lines if line.get("event") == "http.request"]
    assert requests and all(len(line["request_id"]) == 32 for line in requests)
