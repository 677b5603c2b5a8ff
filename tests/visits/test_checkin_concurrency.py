"""Many phones scanning at once, each retrying with the same idempotency key: on PostgreSQL
(real row locks and concurrent transactions) exactly one check-in per key is stored, none is
lost, every retry gets the stored answer, and entries and alerts are counted exactly."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from checkonce.config import packaged_data_dir
from checkonce.db import session_scope
from checkonce.registry.reference import load_reference
from checkonce.visits.checkin import CheckinRequest, check_in
from checkonce.visits.checkin_models import CheckIn, Entry, EntryAlert
from checkonce.visits.models import Visit
from tests import factories as f
from tests.conftest import create_test_engine, drop_test_engine
from tests.visits.test_checkin import NOW, POLICY, SECRET, offset, scan_of, visit

THREADS = 12
KEYS_PER_INSPECTOR = 3
REPEATS = 4


@pytest.fixture
def pg_engine(engine, tmp_path):
    """An empty migrated PostgreSQL schema whose transactions really commit."""
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrency needs PostgreSQL's concurrent writers; SQLite serialises them")
    eng = create_test_engine("postgresql", tmp_path, "checkonce_concurrency")
    yield eng
    drop_test_engine(eng)


def test_concurrent_check_ins_store_exactly_one_record_per_key(pg_engine):
    engine = pg_engine
    with session_scope(engine) as s:
        load_reference(s, packaged_data_dir())
        firms = [f.enterprise(s) for _ in range(3)]
        teams = [[f.inspector(s), f.inspector(s, "FIRE")] for _ in firms]
        # Firm 0 and 1 have a joint visit today; firm 2 gets only unplanned entries.
        visits = [visit(s, firm, team).id for firm, team in zip(firms[:2], teams[:2], strict=True)]
        stray = [f.inspector(s, dept) for dept in ("SAMR", "FIRE", "SEE", "EMB")]
        scans = {firm.id: scan_of(s, firm) for firm in firms}
        places = {firm.id: offset(firm, 25) for firm in firms}
        people = [(p.id, firms[i].id) for i, team in enumerate(teams) for p in team]
        people += [(p.id, firms[2].id) for p in stray]

    calls = []
    for inspector_id, firm_id in people:
        for k in range(KEYS_PER_INSPECTOR):
            key = f"phone-{inspector_id}-{k:02d}"
            lat, lon = places[firm_id]
            request = CheckinRequest(
                scanned=scans[firm_id],
                client_time=NOW - dt.timedelta(minutes=1),
                idempotency_key=key,
                lat=lat,
                lon=lon,
            )
            calls += [(inspector_id, request)] * REPEATS
    random.Random(20261118).shuffle(calls)
    start = threading.Barrier(THREADS)

    def worker(batch):
        start.wait()
        answers = []
        for inspector_id, request in batch:
            with session_scope(engine) as session:
                result = check_in(
                    db_session=session,
                    secret_key=SECRET,
                    policy=POLICY,
                    inspector_id=inspector_id,
                    actor=f.actor("inspector", inspector_id=inspector_id),
                    request=request,
                    now=NOW,
                )
                answers.append((inspector_id, request.idempotency_key, result.checkin.id))
        return answers

    batches = [calls[i::THREADS] for i in range(THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        answers = [a for batch in pool.map(worker, batches) for a in batch]

    assert len(answers) == len(calls)
    ids_by_key = defaultdict(set)
    for inspector_id, key, checkin_id in answers:
        ids_by_key[(inspector_id, key)].add(checkin_id)
    # Every retry of a key got the one stored check-in.
    assert all(len(ids) == 1 for ids in ids_by_key.values())
    expected = len(people) * KEYS_PER_INSPECTOR
    with session_scope(engine) as s:
        stored = s.execute(select(CheckIn.inspector_id, CheckIn.idempotency_key, CheckIn.id)).all()
        assert len(stored) == expected == len(ids_by_key)
        assert {(i, k): {c} for i, k, c in stored} == dict(ids_by_key)
        # Each joint visit is one entry; the unplanned firm's departments each one entry.
        for visit_id in visits:
            assert (
                s.scalar(select(func.count()).select_from(Entry).where(Entry.visit_id == visit_id))
                == 1
            )
            assert s.get(Visit, visit_id).state == "checked_in"
        unplanned_entries = s.scalar(
            select(func.count()).select_from(Entry).where(Entry.enterprise_id == firms[2].id)
        )
        assert unplanned_entries == 4
        day_alert = s.scalars(
            select(EntryAlert).where(
                EntryAlert.enterprise_id == firms[2].id, EntryAlert.kind == "entries_per_day"
            )
        ).one()
        assert day_alert.count == 4
        assert (
            s.scalar(
                select(func.count())
                .select_from(EntryAlert)
                .where(EntryAlert.enterprise_id.in_([firms[0].id, firms[1].id]))
            )
            == 0
        )


def test_a_key_raced_across_two_enterprises_is_stored_once(pg_engine):
    """Different enterprises lock different rows, so only the unique constraint can decide:
    one request wins, the other finds the stored check-in and is told the key is taken."""
    from checkonce.errors import Conflict

    engine = pg_engine
    with session_scope(engine) as s:
        load_reference(s, packaged_data_dir())
        firms = [f.enterprise(s) for _ in range(2)]
        me = f.inspector(s).id
        requests = [
            CheckinRequest(
                scanned=scan_of(s, firm),
                client_time=NOW,
                idempotency_key="raced-key-0001",
                lat=offset(firm, 10)[0],
                lon=offset(firm, 10)[1],
            )
            for firm in firms
        ]
    for _round in range(5):
        start = threading.Barrier(2)

        def attempt(request, start=start):
            start.wait()
            try:
                with session_scope(engine) as session:
                    check_in(
                        db_session=session,
                        secret_key=SECRET,
                        policy=POLICY,
                        inspector_id=me,
                        actor=f.actor("inspector", inspector_id=me),
                        request=request,
                        now=NOW,
                    )
                return "stored"
            except Conflict:
                return "conflict"

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(attempt, requests))
        assert outcomes == ["conflict", "stored"]
        with session_scope(engine) as s:
            assert s.scalar(select(func.count()).select_from(CheckIn)) == 1
