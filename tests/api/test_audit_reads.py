"""Staff reads of non-public enterprise data: one audit record per request, naming the
enterprise when the request concerns one, or the object, the count and the query when it
lists several; enterprises reading their own data and the public are not recorded."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from starlette.requests import Request

from checkonce.api.reads import ReadLog
from checkonce.audit.actor import Actor, Channel
from checkonce.audit.models import AuditRecord
from checkonce.registry.models import Enterprise
from tests import factories as f
from tests.api.test_visits import world  # noqa: F401  (the published-schedule fixture)


def _last_seq(db) -> int:
    return db.scalar(select(func.max(AuditRecord.seq))) or 0


def reads_after(db, seq: int) -> list[AuditRecord]:
    return list(
        db.scalars(
            select(AuditRecord)
            .where(AuditRecord.seq > seq, AuditRecord.action == "data.read")
            .order_by(AuditRecord.seq)
        )
    )


def test_a_staff_look_at_one_enterprise_is_one_record_naming_it(client, headers, users, db_session):
    firm = db_session.get(Enterprise, users["enterprise"].enterprise_id)
    before = _last_seq(db_session)
    response = client.get(
        f"/api/v1/enterprises/{firm.credit_code}",
        headers={**headers["coordinator"], "X-Request-ID": "trail-test-0001"},
    )
    assert response.status_code == 200
    (rec,) = reads_after(db_session, before)
    assert (rec.enterprise_id, rec.object_type, rec.object_id) == (
        firm.id,
        "enterprise",
        firm.credit_code,
    )
    assert (rec.actor_username, rec.actor_role, rec.channel) == ("coord1", "coordinator", "api")
    assert rec.request_id == "trail-test-0001" == response.headers["x-request-id"]


def test_own_and_public_reads_are_not_recorded(client, headers, users, db_session):
    firm = db_session.get(Enterprise, users["enterprise"].enterprise_id)
    before = _last_seq(db_session)
    assert (
        client.get(
            f"/api/v1/enterprises/{firm.credit_code}", headers=headers["enterprise"]
        ).status_code
        == 200
    )
    assert client.get("/api/v1/public/results").status_code == 200
    assert client.get("/api/v1/visits", headers=headers["enterprise"]).status_code == 200
    assert reads_after(db_session, before) == []


def test_a_list_is_one_record_with_its_count_and_query(client, headers, users, db_session):
    for _ in range(3):
        f.enterprise(db_session)
    before = _last_seq(db_session)
    response = client.get(
        "/api/v1/enterprises", params={"limit": 3, "district": "610113"}, headers=headers["admin"]
    )
    assert response.status_code == 200
    shown = response.json()["items"]
    assert len(shown) == 3
    (rec,) = reads_after(db_session, before)
    assert rec.enterprise_id is None and rec.object_id == "list"
    detail = json.loads(rec.body)["detail"]
    assert detail["rows"] == 3 and detail["enterprises"] == 3
    assert detail["total"] == response.json()["total"] >= 4
    assert detail["query"] == {"limit": "3", "district": "610113"}


def test_visits_read_by_each_kind_of_staff(client, headers, world, db_session):  # noqa: F811
    before = _last_seq(db_session)
    listed = client.get("/api/v1/visits", headers=headers["bureau"]).json()["items"]
    (rec,) = reads_after(db_session, before)
    assert rec.actor_role == "bureau" and json.loads(rec.body)["detail"]["rows"] == len(listed)

    mine = client.get("/api/v1/visits", headers=headers["inspector"]).json()["items"]
    # The team draw ranks officers by a keyed hash of their codes, which PostgreSQL's
    # sequences vary from run to run: when it left this inspector out, the bureau reads one.
    reader, visit_id = ("inspector", mine[0]["id"]) if mine else ("bureau", listed[0]["id"])
    before = _last_seq(db_session)
    assert client.get(f"/api/v1/visits/{visit_id}", headers=headers[reader]).status_code == 200
    (rec,) = reads_after(db_session, before)
    visit = next(v for v in world.version.visits if v.id == visit_id)
    assert (rec.enterprise_id, rec.object_type, rec.object_id) == (
        visit.enterprise_id,
        "visit",
        str(visit_id),
    )
    # a visit the inspector may not see is a 404 and shows nothing (the world recuses the
    # inspector from one firm and has a FIRE-only visit, so there is one)
    before = _last_seq(db_session)
    others = {v.id for v in world.version.visits} - {v["id"] for v in mine}
    assert others, [v["id"] for v in mine]
    assert (
        client.get(f"/api/v1/visits/{min(others)}", headers=headers["inspector"]).status_code == 404
    )
    assert reads_after(db_session, before) == []


def test_an_empty_answer_is_not_recorded(client, headers, db_session):
    before = _last_seq(db_session)
    response = client.get("/api/v1/checkins", headers=headers["coordinator"])
    assert response.status_code == 200 and response.json()["total"] == 0
    assert reads_after(db_session, before) == []


def _request(path: str) -> Request:
    return Request(
        {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": []}
    )


def test_one_record_per_request_and_the_typed_actor_is_taken_as_is(db_session):
    actor = Actor(user_id=9, username="cli-admin", role="admin", channel=Channel.CLI)
    reads = ReadLog(_request("/coordinator/x"), db_session)
    seq = reads.shown(actor, "enterprise", enterprise_id=1)
    assert db_session.get(AuditRecord, seq).channel == "cli"
    with pytest.raises(RuntimeError):
        reads.shown(actor, "enterprise", enterprise_id=2)


def test_on_sqlite_a_staff_read_takes_the_write_lock_before_reading(fresh_engine):
    """A SQLite transaction that has read cannot write once another connection committed
    (SQLITE_BUSY_SNAPSHOT): without the lock taken up front, the read record would fail."""
    if fresh_engine.dialect.name != "sqlite":
        pytest.skip("SQLite's locking")
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from checkonce.api.reads import read_log
    from checkonce.db import session_factory

    sessions = session_factory(fresh_engine)
    actor = Actor(user_id=1, username="coord", role="coordinator", channel=Channel.WEB)

    def other_writer(timeout_ms: int) -> None:
        with fresh_engine.connect() as other:
            other.exec_driver_sql(f"PRAGMA busy_timeout={timeout_ms}")
            other.execute(text("UPDATE alembic_version SET version_num = version_num"))
            other.commit()

    # without the lock: read, another connection commits, the record cannot be written
    plain = sessions()
    plain.execute(text("SELECT count(*) FROM enterprise")).scalar()
    other_writer(10_000)
    with pytest.raises(OperationalError):
        ReadLog(_request("/coordinator/x"), plain).shown(actor, "enterprise", enterprise_id=1)
    plain.rollback()
    plain.close()

    # with it: the other writer waits (here: gives up), the read record is written
    locked = sessions()
    reads = read_log(_request("/coordinator/x"), locked)
    locked.execute(text("SELECT count(*) FROM enterprise")).scalar()
    with pytest.raises(OperationalError, match="locked"):
        other_writer(50)
    assert reads.shown(actor, "enterprise", enterprise_id=1) == 1
    locked.commit()
    locked.close()
