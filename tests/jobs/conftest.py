"""Running jobs inside the test's rolled-back transaction, with a controlled clock.

`run` goes through `run_job` (the decorator's path: lock, run record, workday rule, the job's
own session) with sessions bound to the test's connection, so every row a job writes is
rolled back with the test."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from checkonce.config import Settings
from checkonce.jobs.registry import run_job
from tests import factories as f

ZONE = ZoneInfo("Asia/Shanghai")
SECRET = "jobs-test-secret-" + "j" * 40
POLICY = f.policy()
CALENDAR = f.calendar()


def at(text: str) -> dt.datetime:
    """A moment in Xi'an, 'YYYY-MM-DDTHH:MM'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZONE)


@pytest.fixture
def job_settings() -> Settings:
    return Settings(
        env="test", secret_key=SECRET, notification_channel="database", jobs_replan_seconds=5
    )


@pytest.fixture
def run(engine, db_session, job_settings):
    """run(name, now) → the recorded JobRun, inside the test's transaction."""
    connection = db_session.connection()

    def sessions() -> Session:
        return Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    def go(name: str, now: dt.datetime, **kwargs):
        return run_job(
            name,
            engine=engine,
            settings=kwargs.pop("settings", job_settings),
            now=now,
            policy=POLICY,
            calendar=kwargs.pop("calendar", CALENDAR),
            sessions=sessions,
            **kwargs,
        )

    return go
