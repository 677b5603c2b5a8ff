"""Two coordinators publish two drafts of one period at the same moment (PostgreSQL, real
concurrent transactions): exactly one wins, the other gets a clear conflict, and the period
ends with exactly one version in force."""

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
from tests.visits.scenario import ACTOR, CALENDAR, POLICY, SEED, build

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

    for round_ in range(ROUNDS):
        drafts = []
        for seed in (SEED, f"{round_ + 1:02x}" * 32):
            with session_scope(pg_engine) as s:
                version = service.generate_schedule(
                    db_session=s,
                    period="2027Q1",
                    actor=ACTOR,
                    seed=seed,
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

        winners = [d for d, result in outcomes.items() if result == "published"]
        assert len(outcomes) == 2 and len(winners) == 1, outcomes
        (loser,) = set(drafts) - set(winners)
        assert "同时发布" in outcomes[loser]
        with session_scope(pg_engine) as s:
            in_force = s.scalars(
                select(ScheduleVersion.id).where(
                    ScheduleVersion.period == "2027Q1", ScheduleVersion.state == "published"
                )
            ).all()
            assert in_force == winners
            assert s.get(ScheduleVersion, loser).state == "draft"
