"""Two coordinators publish two drafts of one period at the same moment (PostgreSQL, real
concurrent transactions): the period always ends with exactly one version in force; the
other publish either waited and was superseded in turn or was refused with a clear conflict."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from checkonce.config import packaged_data_dir
from checkonce.db import session_factory, session_scope
from checkonce.errors import Conflict
from checkonce.registry.reference import load_reference
from checkonce.visits import service
from checkonce.visits.models import ScheduleVersion
from tests.conftest import create_test_engine, drop_test_engine
from tests.visits.scenario import ACTOR, CALENDAR, POLICY, build

ROUNDS = 3


@pytest.fixture
def pg_engine(engine, tmp_path):
    """An empty migrated PostgreSQL schema whose transactions really commit."""
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrency needs PostgreSQL's concurrent writers; SQLite serialises them")
    eng = create_test_engine("postgresql", tmp_path, "checkonce_publish")
    yield eng
    drop_test_engine(eng)


def publish(make, version_id: int, barrier: threading.Barrier, outcomes: dict[int, str]) -> None:
    """One coordinator's publish in its own transaction, started together with the others."""
    session = make()
    try:
        barrier.wait()
        service.publish_schedule(db_session=session, schedule_id=version_id, actor=ACTOR)
        session.commit()
        outcomes[version_id] = "published"
    except Conflict as exc:
        session.rollback()
        outcomes[version_id] = exc.message
    finally:
        session.close()


def test_concurrent_publishes_leave_one_version_in_force(pg_engine):
    with session_scope(pg_engine) as s:
        load_reference(s, packaged_data_dir())
        build(s)
    make = session_factory(pg_engine)

    for _round in range(ROUNDS):
        drafts = []
        for _ in range(2):
            with session_scope(pg_engine) as s:
                version = service.generate_schedule(
                    db_session=s,
                    period="2027Q1",
                    actor=ACTOR,
                    time_limit=5,
                    policy=POLICY,
                    calendar=CALENDAR,
                )
                drafts.append(version.id)

        barrier = threading.Barrier(len(drafts))
        outcomes: dict[int, str] = {}
        threads = [
            threading.Thread(target=publish, args=(make, d, barrier, outcomes)) for d in drafts
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        # Either one transaction waits for the other and then supersedes it (as if the two
        # had clicked one after the other), or the database refuses the second; never two
        # versions in force, never a half-published one.
        assert len(outcomes) == len(drafts), outcomes
        winners = [d for d, result in outcomes.items() if result == "published"]
        assert winners, outcomes
        with session_scope(pg_engine) as s:
            in_force = s.scalars(
                select(ScheduleVersion.id).where(
                    ScheduleVersion.period == "2027Q1", ScheduleVersion.state == "published"
                )
            ).all()
            assert len(in_force) == 1 and in_force[0] in winners
            for draft, result in outcomes.items():
                state = s.get(ScheduleVersion, draft).state
                if result == "published":
                    assert state in ("published", "superseded")
                else:
                    assert "同时发布" in result and state == "draft"
