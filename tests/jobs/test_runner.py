"""One job runner per deployment: of two processes (here two coordinators with engines of
their own), exactly one holds the runner lock — a file lock on SQLite, an advisory lock on
PostgreSQL — and runs each job once; the other takes over when it stops."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from checkonce.config import Settings
from checkonce.db import make_engine, session_scope
from checkonce.jobs.locks import AdvisoryLock, FileLockLock, make_lock
from checkonce.jobs.models import JobRun, apscheduler_jobs
from checkonce.jobs.registry import load_jobs
from checkonce.jobs.runner import JobCoordinator
from tests.jobs.conftest import SECRET

SETTINGS = Settings(env="test", secret_key=SECRET, notification_channel="database")


def twin(engine):
    """A second engine on the same database: what another process would open."""
    return make_engine(engine.url.render_as_string(hide_password=False))


def wait_for(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_the_runner_lock_admits_one_holder(fresh_engine):
    other = twin(fresh_engine)
    try:
        first, second = make_lock(fresh_engine, "runner"), make_lock(other, "runner")
        expected = AdvisoryLock if fresh_engine.dialect.name == "postgresql" else FileLockLock
        assert isinstance(first, expected) and isinstance(second, expected)
        assert first.try_acquire() and first.is_held()
        assert not second.try_acquire()
        assert make_lock(other, "something else").try_acquire()  # locks are per name
        first.release()
        assert second.try_acquire() and not first.try_acquire()
        second.release()
    finally:
        other.dispose()


def test_two_runners_started_one_runs_each_job_once(fresh_engine):
    other = twin(fresh_engine)
    a = JobCoordinator(engine=fresh_engine, settings=SETTINGS, retry_seconds=0.5)
    b = JobCoordinator(engine=other, settings=SETTINGS, retry_seconds=0.5)
    try:
        roles = sorted([a.start(), b.start()])
        assert roles == ["runner", "standby"]
        runner, standby = (a, b) if a.role == "runner" else (b, a)
        jobs = load_jobs()
        scheduled = {job.id: job for job in runner.scheduler.get_jobs()}
        assert set(scheduled) == set(jobs)
        for name, job in scheduled.items():
            # Missed starts (server down) run once, within each job's grace time.
            assert job.coalesce and job.max_instances == 1
            assert job.misfire_grace_time == jobs[name].misfire_grace_time > 0
            assert str(job.trigger.timezone) == "Asia/Shanghai"
        with session_scope(fresh_engine) as session:
            stored = session.scalar(select(func.count()).select_from(apscheduler_jobs))
        assert stored == len(jobs)  # the job store is the database's apscheduler_jobs table

        # Fire every job now: the runner runs each exactly once, the standby none.
        now = dt.datetime.now(ZoneInfo(SETTINGS.timezone))
        for name in jobs:
            runner.scheduler.modify_job(name, next_run_time=now)

        def finished() -> int:
            with session_scope(fresh_engine) as session:
                return session.scalar(
                    select(func.count()).select_from(JobRun).where(JobRun.status != "running")
                )

        assert wait_for(lambda: finished() >= len(jobs))
        time.sleep(1.5)  # standby ticks pass; nothing runs a second time
        assert standby.ensure() == "standby"
        with session_scope(fresh_engine) as session:
            runs = session.execute(select(JobRun.name, JobRun.trigger, JobRun.status)).all()
        assert sorted(name for name, _, _ in runs) == sorted(jobs)
        assert {trigger for _, trigger, _ in runs} == {"scheduled"}
        assert {status for _, _, status in runs} <= {"ok", "skipped"}

        # The runner stops (process ends): the standby takes over within a tick.
        runner.shutdown()
        assert wait_for(lambda: standby.role == "runner", seconds=10)
        assert {job.id for job in standby.scheduler.get_jobs()} == set(jobs)
    finally:
        a.shutdown()
        b.shutdown()
        other.dispose()


@pytest.mark.parametrize("retry", [0.2])
def test_a_runner_that_loses_its_lock_stops_its_scheduler(fresh_engine, retry):
    coordinator = JobCoordinator(engine=fresh_engine, settings=SETTINGS, retry_seconds=retry)
    try:
        assert coordinator.start() == "runner"
        coordinator._lock.release()  # what a dropped lock connection amounts to
        thief = make_lock(twin(fresh_engine), "runner")
        assert thief.try_acquire()
        assert wait_for(lambda: coordinator.role == "standby", seconds=10)
        assert coordinator.scheduler is None
        thief.release()
        assert wait_for(lambda: coordinator.role == "runner", seconds=10)
    finally:
        coordinator.shutdown()
