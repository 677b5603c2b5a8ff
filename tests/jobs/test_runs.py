"""What every run leaves behind: a job_run row; a failing job rolls its work back, keeps
the error text, and the next run works; a job already running elsewhere is not run twice."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from sqlalchemy import func, select

from checkonce.errors import NotFound
from checkonce.jobs import metrics
from checkonce.jobs.locks import make_lock
from checkonce.jobs.logs import JsonFormatter
from checkonce.jobs.models import CertificateAlert, JobRun
from checkonce.jobs.registry import JOBS, JobContext, get_job, load_jobs, scheduled_job
from tests import factories as f
from tests.jobs.conftest import at

FLAKY = "test_flaky_job"


@pytest.fixture
def flaky():
    """A job that writes an alert and then fails while `state['fail']` is true."""
    state = {"fail": True, "calls": 0}

    @scheduled_job(FLAKY, trigger={"hour": 3}, description="test")
    def flaky_job(ctx: JobContext):
        state["calls"] += 1
        person = f.inspector(ctx.db_session, "SAMR")
        ctx.db_session.add(
            CertificateAlert(
                inspector_id=person.id,
                department_id=person.department_id,
                certificate_valid_to=person.certificate_valid_to,
                raised_on=ctx.today,
                days_left=1,
            )
        )
        ctx.db_session.flush()
        if state["fail"]:
            raise RuntimeError("gateway down")
        return {"alerts": 1}

    yield state
    JOBS.pop(FLAKY, None)


def test_a_failed_run_is_recorded_rolled_back_and_the_next_run_works(
    db_session, run, flaky, caplog
):
    s = db_session
    failures = metrics.JOB_RUNS.labels(job=FLAKY, status="failed")._value.get()
    with caplog.at_level(logging.INFO, logger="checkonce.jobs"):
        failed = run(FLAKY, at("2026-11-23T03:00"))
    assert failed.status == "failed" and failed.finished_at is not None
    assert "gateway down" in failed.error and "Traceback" in failed.error
    assert failed.counts == {} and failed.duration_seconds is not None
    assert s.scalar(select(func.count()).select_from(CertificateAlert)) == 0  # rolled back
    assert metrics.JOB_RUNS.labels(job=FLAKY, status="failed")._value.get() == failures + 1
    events = [getattr(r, "fields", {}).get("event") for r in caplog.records]
    assert events[:1] == ["job.start"] and "job.failed" in events and events[-1] == "job.finish"
    line = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert line["job"] == FLAKY and line["status"] == "failed" and "duration_seconds" in line

    flaky["fail"] = False
    fixed = run(FLAKY, at("2026-11-24T03:00"))
    assert fixed.status == "ok" and fixed.error is None and fixed.counts == {"alerts": 1}
    assert s.scalar(select(func.count()).select_from(CertificateAlert)) == 1
    rows = s.execute(
        select(JobRun.status, JobRun.trigger, JobRun.for_day).order_by(JobRun.id)
    ).all()
    assert rows == [
        ("failed", "manual", dt.date(2026, 11, 23)),
        ("ok", "manual", dt.date(2026, 11, 24)),
    ]


def test_a_job_running_elsewhere_is_skipped_not_run_twice(engine, run, flaky):
    held = make_lock(engine, f"job:{FLAKY}")
    assert held.try_acquire()
    try:
        result = run(FLAKY, at("2026-11-23T03:00"))
    finally:
        held.release()
    assert result.status == "skipped" and "另一进程" in result.reason
    assert flaky["calls"] == 0
    flaky["fail"] = False
    assert run(FLAKY, at("2026-11-23T03:05")).status == "ok"


def test_jobs_are_registered_from_each_domain():
    jobs = load_jobs()
    assert {"missed_visit_sweep", "next_workday", "certificate_expiry", "publicity_watch"} <= set(
        jobs
    )
    assert jobs["missed_visit_sweep"].workdays_only and jobs["next_workday"].workdays_only
    assert jobs["publicity_watch"].workdays_only
    assert not jobs["certificate_expiry"].workdays_only
    assert all(spec.misfire_grace_time > 0 for spec in jobs.values())
    with pytest.raises(NotFound, match="没有名为"):
        get_job("no_such_job")
