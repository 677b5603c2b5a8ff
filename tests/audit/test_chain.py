"""The audit trail: records chain, the database refuses changes, and the checker names the
first record that was changed, deleted or inserted."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from checkonce.audit import chain
from checkonce.audit.actions import ACTION_LABELS, AuditAction
from checkonce.audit.actor import Actor, Channel
from checkonce.audit.models import AuditRecord
from checkonce.audit.service import (
    export,
    head,
    jsonable,
    publish_checkpoint,
    record,
    record_read,
    verify,
)

ALICE = Actor(user_id=None, username="alice", role="coordinator", channel=Channel.API)


def _write(session, n: int = 3) -> list[int]:
    return [
        record(
            session,
            actor=ALICE,
            action=AuditAction.PLAN_APPROVE,
            object_type="plan",
            object_id=i,
            before={"state": "submitted"},
            after={"state": "approved", "on": dt.date(2027, 1, 4)},
        )
        for i in range(n)
    ]


def test_every_action_has_a_chinese_label():
    assert set(ACTION_LABELS) == set(AuditAction)


def test_records_form_a_gap_free_chain(db_session):
    seqs = _write(db_session, 4)
    assert seqs == list(range(seqs[0], seqs[0] + 4))
    recs = db_session.scalars(select(AuditRecord).order_by(AuditRecord.seq)).all()
    for earlier, later in itertools.pairwise(recs):
        assert later.prev_hash == earlier.hash
        assert later.hash == chain.chain_hash("sha256", earlier.hash, later.body)
    body = json.loads(recs[-1].body)
    assert body["after"] == {"state": "approved", "on": "2027-01-04"}
    assert body["actor"]["username"] == "alice" and body["channel"] == "api"
    assert head(db_session) == (recs[-1].seq, recs[-1].hash)
    assert verify(db_session).ok


def test_read_is_one_record(db_session):
    seq = record_read(
        db_session, actor=ALICE, object_type="enterprise", object_id=7, enterprise_id=7
    )
    rec = db_session.get(AuditRecord, seq)
    assert rec.action == "data.read" and rec.enterprise_id == 7


def test_unknown_action_and_unrecordable_value_are_refused(db_session):
    with pytest.raises(ValueError):
        record(db_session, actor=ALICE, action="plan.steal", object_type="plan", object_id=1)
    with pytest.raises(TypeError):
        record(
            db_session,
            actor=ALICE,
            action=AuditAction.PLAN_SUBMIT,
            object_type="plan",
            object_id=1,
            detail={"x": object()},
        )


def test_database_refuses_update_and_delete(db_session, backend):
    (seq,) = _write(db_session, 1)
    for statement in (
        f"UPDATE audit_record SET action = 'plan.submit' WHERE seq = {seq}",
        f"DELETE FROM audit_record WHERE seq = {seq}",
    ):
        nested = db_session.begin_nested()
        with pytest.raises(DBAPIError) as caught:
            db_session.execute(text(statement))
        nested.rollback()
        assert "append-only" in str(caught.value)
    if backend == "postgresql":
        nested = db_session.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            db_session.execute(text("TRUNCATE audit_record"))
        nested.rollback()
    assert db_session.get(AuditRecord, seq).action == "plan.approve"


def _untriggered(db_session, backend):
    """What an attacker with the database's owner account does first."""
    if backend == "postgresql":
        db_session.execute(text("ALTER TABLE audit_record DISABLE TRIGGER USER"))
    else:
        for event in ("update", "delete"):
            db_session.execute(text(f"DROP TRIGGER audit_record_no_{event}"))


@pytest.mark.parametrize("attack", ["change", "delete", "insert", "column", "truncate"])
def test_verify_names_the_tampered_record(fresh_engine, attack):
    from checkonce.db import session_scope

    backend = fresh_engine.dialect.name
    with session_scope(fresh_engine) as s:
        seqs = _write(s, 5)
        publish_checkpoint(s, actor=Actor.system("audit-checkpoint"))
        _write(s, 2)
    assert seqs == [1, 2, 3, 4, 5]
    with session_scope(fresh_engine) as s:
        assert verify(s).ok
        _untriggered(s, backend)
        if attack == "change":
            bad = s.get(AuditRecord, 3)
            s.execute(
                text("UPDATE audit_record SET body = :b WHERE seq = 3"),
                {"b": bad.body.replace("approved", "returned")},
            )
            expected = 3
        elif attack == "column":
            s.execute(text("UPDATE audit_record SET actor_username = 'mallory' WHERE seq = 2"))
            expected = 2
        elif attack == "delete":
            s.execute(text("DELETE FROM audit_record WHERE seq = 4"))
            expected = 4
        elif attack == "insert":
            # squeeze a forged record in: shift later records up by one, chain re-hashed
            # from the forgery on would need the published checkpoint to be rewritten too
            s.execute(text("UPDATE audit_record SET seq = seq + 100 WHERE seq >= 3"))
            s.execute(text("UPDATE audit_record SET seq = seq - 99 WHERE seq >= 103"))
            prev = s.get(AuditRecord, 2)
            forged = dict(json.loads(prev.body), seq=3)
            body = chain.canonical_json(forged)
            s.execute(
                text(
                    "INSERT INTO audit_record (seq, at, actor_username, actor_role, channel, "
                    "action, object_type, object_id, body, alg, prev_hash, hash) VALUES "
                    "(3, :at, 'alice', 'coordinator', 'api', 'plan.approve', 'plan', '1', "
                    ":body, 'sha256', :prev, :hash)"
                ),
                {
                    "at": prev.at,
                    "body": body,
                    "prev": prev.hash,
                    "hash": chain.chain_hash("sha256", prev.hash, body),
                },
            )
            expected = 4  # the forgery links; the record after it no longer does
        else:
            s.execute(text("DELETE FROM audit_record WHERE seq >= 5"))
            s.execute(
                text(
                    "UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_record WHERE seq = 4)"
                )
            )
            expected = 5  # the checkpoint published of #5 names it
    with session_scope(fresh_engine) as s:
        report = verify(s)
    assert not report.ok
    assert report.broken.seq == expected, str(report.broken)


def test_an_outsiders_checkpoint_detects_a_rewritten_history(db_session):
    _write(db_session, 3)
    seq, kept = head(db_session)
    assert verify(db_session, extra_checkpoints=[(seq, kept)]).ok
    report = verify(db_session, extra_checkpoints=[(seq, "f" * 64)])
    assert report.broken.seq == seq and "checkpoint" in report.broken.reason


def test_export_is_checked_by_the_standalone_script(fresh_engine, tmp_path):
    from checkonce.db import session_scope

    with session_scope(fresh_engine) as s:
        _write(s, 6)
        publish_checkpoint(s, actor=Actor.system("audit-checkpoint"))
    out = tmp_path / "trail.jsonl"
    with session_scope(fresh_engine) as s:
        assert export(s, out) == 7
    script = Path(chain.__file__)
    ok = subprocess.run(
        [sys.executable, "-I", str(script), str(out)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: 7 records" in ok.stdout
    lines = out.read_text(encoding="utf-8").splitlines()
    rec = json.loads(lines[4])
    rec["body"] = rec["body"].replace("alice", "mallory")
    lines[4] = json.dumps(rec, ensure_ascii=False)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-I", str(script), str(out)], capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert "record #4" in bad.stdout and "hash does not match" in bad.stdout


def test_chain_module_imports_nothing_of_checkonce():
    source = Path(chain.__file__).read_text(encoding="utf-8")
    assert "checkonce" not in source.replace("checkonce.audit/1", "").replace(
        "CheckOnce", ""
    ).replace("`checkonce audit export`", "")


@settings(max_examples=60, deadline=None)
@given(
    bodies=st.lists(st.dictionaries(st.text(max_size=5), st.integers()), min_size=1, max_size=8),
    victim=st.integers(min_value=0, max_value=7),
)
def test_any_single_change_is_found_at_its_record(bodies, victim):
    prev, records = chain.GENESIS, []
    for i, content in enumerate(bodies, start=1):
        body = chain.canonical_json({"seq": i, **{f"k{k}": v for k, v in content.items()}})
        h = chain.chain_hash("sha256", prev, body)
        records.append({"seq": i, "body": body, "prev_hash": prev, "hash": h, "alg": "sha256"})
        prev = h
    assert chain.check_records(records)[2] is None
    victim %= len(records)
    tampered = [dict(r) for r in records]
    tampered[victim]["body"] = tampered[victim]["body"][:-1] + ',"x":1}'
    broken = chain.check_records(tampered)[2]
    assert broken is not None and broken.seq == victim + 1
    dropped = records[:victim] + records[victim + 1 :]
    if victim < len(records) - 1:
        assert chain.check_records(dropped)[2].seq == victim + 1


def test_sm3_chain(db_session):
    assert chain.digest("sm3", "abc") == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


def test_jsonable_keeps_meaning():
    assert jsonable({"d": dt.date(2027, 1, 4), "s": {2, 1}, "t": (1, "a")}) == {
        "d": "2027-01-04",
        "s": [1, 2],
        "t": [1, "a"],
    }
