"""Concurrent schedule generations (PostgreSQL, real concurrent transactions): one
generation per period at a time, every other request refused with a clear message; version
numbers allocated without collisions; runs whose process is gone marked interrupted."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from checkonce.db import session_factory, session_scope
from checkonce.errors import Conflict
from checkonce.jobs.models import JobRun
from checkonce.jobs.registry import fail_interrupted_runs
from checkonce.visits import jobs, service
from checkonce.visits.models import ScheduleJob, ScheduleVersion
from tests import factories as f
from tests.conftest import create_test_engine, drop_test_engine

THREADS = 6


@pytest.fixture
def real_engine(engine, tmp_path):
    """An empty migrated schema of the test backend whose transactions really commit."""
    eng = create_test_engine(engine.dialect.name, tmp_path, "checkonce_generation")
    yield eng
    drop_test_engine(eng)


def together(count: int, work) -> list[str]:
    """Run work(i) in `count` threads released at once; each returns an outcome string."""
    barrier = threading.Barrier(count)
    outcomes: list[str] = [""] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = work(i)
        except Exception as exc:  # the outcome under test: never an internal error
            outcomes[i] = f"error: {type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def test_concurrent_generation_requests_one_runs_the_rest_are_refused(real_engine):
    if real_engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite serialises them")
    make = session_factory(real_engine)

    def request(i: int) -> str:
        session = make()
        try:
            jobs.create_job(
                db_session=session,
                request=jobs.JobRequest(period="2027Q1"),
                actor=f.coordinator(f"c{i}"),
            )
            time.sleep(0.2)  # hold the transaction open while the others try
            session.commit()
            return "queued"
        except Conflict as exc:
            session.rollback()
            return exc.message
        finally:
            session.close()

    outcomes = together(THREADS, request)
    assert outcomes.count("queued") == 1, outcomes
    refused = [o for o in outcomes if o != "queued"]
    assert all("一次只能生成一个" in o for o in refused), refused
    with session_scope(real_engine) as s:
        assert len(s.scalars(select(ScheduleJob)).all()) == 1


def test_the_database_itself_refuses_a_second_active_generation(real_engine):
    with session_scope(real_engine) as s:
        s.add(ScheduleJob(period="2027Q2", state="running", requested_by="x"))
    with pytest.raises(IntegrityError), session_scope(real_engine) as s:
        s.add(ScheduleJob(period="2027Q2", state="queued", requested_by="y"))
    with session_scope(real_engine) as s:  # a finished one does not count
        s.add(ScheduleJob(period="2027Q2", state="failed", requested_by="z", message="x"))


def test_concurrent_stores_get_distinct_version_numbers(real_engine):
    if real_engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite serialises them")
    make = session_factory(real_engine)

    def store(i: int) -> str:
        session = make()
        try:
            version = service._new_version(
                session, "2027Q3", seed=f"{i:02x}" * 32, created_by=f"coordinator:c{i}"
            )
            time.sleep(0.1)  # the rest of a store: visits, teams, metrics
            session.commit()
            return f"v{version.version}"
        finally:
            session.close()

    outcomes = together(THREADS, store)
    assert sorted(outcomes) == sorted(f"v{n}" for n in range(1, THREADS + 1)), outcomes
    with session_scope(real_engine) as s:
        numbers = s.scalars(
            select(ScheduleVersion.version).where(ScheduleVersion.period == "2027Q3")
        ).all()
    assert sorted(numbers) == list(range(1, THREADS + 1))


def test_version_numbers_retry_past_a_number_taken_meanwhile(real_engine):
    # The unique (period, version) is the last line: a number taken between reading the
    # maximum and writing is skipped, on any backend.
    make = session_factory(real_engine)
    with session_scope(real_engine) as s:
        first = service._new_version(s, "2027Q4", seed="aa" * 32, created_by="c")
        assert first.version == 1
    session = make()
    try:
        original = session.scalar

        seen = {"stale": False}

        def stale_max(statement, *args, **kwargs):
            value = original(statement, *args, **kwargs)
            if "max" in str(statement).lower() and not seen["stale"]:
                seen["stale"] = True
                return 0
            return value

        session.scalar = stale_max  # the first read sees no version yet
        version = service._new_version(session, "2027Q4", seed="bb" * 32, created_by="c")
        session.commit()
        assert version.version == 2
    finally:
        session.close()


def test_runs_whose_process_is_gone_are_marked_interrupted(real_engine):
    import socket
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = socket.gethostname()
    with session_scope(real_engine) as s:
        gone = ScheduleJob(
            period="2028Q1", state="running", requested_by="c", owner=f"{host}:{child.pid}"
        )
        mine = ScheduleJob(
            period="2028Q2", state="running", requested_by="c", owner=jobs.this_process()
        )
        elsewhere = ScheduleJob(
            period="2028Q3", state="queued", requested_by="c", owner="other-host:1"
        )
        run = JobRun(
            name="publicity_watch",
            for_day=__import__("datetime").date(2028, 1, 3),
            status="running",
            host=f"{host}:{child.pid}",
        )
        s.add_all([gone, mine, elsewhere, run])
        s.flush()
        ids = (gone.id, mine.id, elsewhere.id, run.id)
    make = session_factory(real_engine)
    assert jobs.fail_interrupted(make) == [ids[0]]
    assert fail_interrupted_runs(make) == [ids[3]]
    with session_scope(real_engine) as s:
        states = [s.get(ScheduleJob, i).state for i in ids[:3]]
        assert states == ["failed", "running", "queued"]
        assert "中断" in s.get(ScheduleJob, ids[0]).message
        stopped = s.get(JobRun, ids[3])
        assert (stopped.status, stopped.reason) == ("failed", "interrupted")
