"""Writing and checking the audit trail.

`record` appends one hash-chained record in the caller's transaction: the record commits
with the change it describes or not at all. Appends are serialised by the single
`audit_head` row (its UPDATE takes the row lock on PostgreSQL and the write lock on SQLite),
which is what makes the sequence gap-free and the chain linear under concurrent writers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.chain import (
    GENESIS,
    SCHEMA,
    Break,
    canonical_json,
    chain_hash,
    check_records,
)
from checkonce.audit.models import AuditCheckpoint, AuditHead, AuditRecord
from checkonce.db import utcnow
from checkonce.errors import CheckOnceError

_RECORD = AuditRecord.__table__
_HEAD = AuditHead.__table__


def jsonable(value: Any) -> Any:
    """`value` as plain JSON data: dates and times as ISO text, decimals as text, enums by
    value, sets sorted; what cannot be represented is an error, never silently dropped."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(jsonable(v) for v in value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    raise TypeError(f"audit: cannot record a value of type {type(value).__name__}")


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The named attributes of `obj` as JSON data, for a record's before/after."""
    return {name: jsonable(getattr(obj, name)) for name in fields}


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict, dict]:
    """Only the keys whose values differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def hash_algorithm() -> str:
    """The jurisdiction's chain hash (policy `audit.hash`)."""
    from checkonce.policy import jurisdiction_policy

    return jurisdiction_policy().audit.hash


def record(
    db_session: Session,
    *,
    actor: Actor,
    action: AuditAction | str,
    object_type: str,
    object_id: Any,
    enterprise_id: int | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Append one record in the caller's transaction and return its sequence number."""
    action = AuditAction(action)
    alg = hash_algorithm()
    seq, prev_hash = db_session.execute(
        update(_HEAD)
        .where(_HEAD.c.id == 1)
        .values(seq=_HEAD.c.seq + 1)
        .returning(_HEAD.c.seq, _HEAD.c.hash)
    ).one()
    now = utcnow()
    object_id = str(object_id)
    content = {
        "seq": seq,
        "at": now.isoformat(timespec="microseconds"),
        "actor": {"user_id": actor.user_id, "username": actor.username, "role": actor.role},
        "channel": str(actor.channel),
        "action": action.value,
        "object": {"type": object_type, "id": object_id},
        "enterprise_id": enterprise_id,
        "before": jsonable(before),
        "after": jsonable(after),
        "detail": jsonable(detail),
        "request_id": actor.request_id,
        "alg": alg,
    }
    body = canonical_json(content)
    new_hash = chain_hash(alg, prev_hash, body)
    db_session.execute(
        insert(_RECORD).values(
            seq=seq,
            at=now,
            actor_user_id=actor.user_id,
            actor_username=actor.username[:80],
            actor_role=actor.role,
            channel=str(actor.channel),
            action=action.value,
            object_type=object_type,
            object_id=object_id[:80],
            enterprise_id=enterprise_id,
            request_id=actor.request_id,
            body=body,
            alg=alg,
            prev_hash=prev_hash,
            hash=new_hash,
        )
    )
    db_session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(hash=new_hash))
    return seq


def record_read(
    db_session: Session,
    *,
    actor: Actor,
    object_type: str,
    object_id: Any,
    enterprise_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Record that a staff member looked at non-public data of an enterprise (one record per
    request, whatever number of rows it showed)."""
    return record(
        db_session,
        actor=actor,
        action=AuditAction.READ,
        object_type=object_type,
        object_id=object_id,
        enterprise_id=enterprise_id,
        detail=detail,
    )


# --- checking ------------------------------------------------------------------------


class AuditBroken(CheckOnceError):
    code = "audit_broken"
    status = 409


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of recomputing the chain."""

    records: int
    head_seq: int
    head_hash: str
    checkpoints: int
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


_MIRRORED = (
    ("actor_username", lambda b: (b.get("actor") or {}).get("username")),
    ("actor_role", lambda b: (b.get("actor") or {}).get("role")),
    ("actor_user_id", lambda b: (b.get("actor") or {}).get("user_id")),
    ("channel", lambda b: b.get("channel")),
    ("action", lambda b: b.get("action")),
    ("object_type", lambda b: (b.get("object") or {}).get("type")),
    ("object_id", lambda b: (b.get("object") or {}).get("id")),
    ("enterprise_id", lambda b: b.get("enterprise_id")),
    ("request_id", lambda b: b.get("request_id")),
)


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _rows(
    db_session: Session,
    from_seq: int = 1,
    to_seq: int | None = None,
    mismatches: list[tuple[int, str]] | None = None,
) -> Iterator[dict]:
    """Records as the standalone checker reads them. With `mismatches`, the query columns
    are checked against the hashed body too: a forged column is noted with its record."""
    query = select(AuditRecord).where(AuditRecord.seq >= from_seq).order_by(AuditRecord.seq)
    if to_seq is not None:
        query = query.where(AuditRecord.seq <= to_seq)
    for rec in db_session.scalars(query.execution_options(yield_per=2000)):
        if mismatches is not None and not mismatches:
            bad = _mismatched_columns(rec)
            if bad:
                mismatches.append((rec.seq, ", ".join(bad)))
        yield {
            "seq": rec.seq,
            "body": rec.body,
            "alg": rec.alg,
            "prev_hash": rec.prev_hash,
            "hash": rec.hash,
        }


def _mismatched_columns(rec: AuditRecord) -> list[str]:
    try:
        fields = json.loads(rec.body)
    except ValueError:
        return []  # the hash check reports a mangled body
    bad = [col for col, get in _MIRRORED if getattr(rec, col) != get(fields)]
    at_text = fields.get("at")
    try:
        same_time = _as_utc(rec.at) == _as_utc(dt.datetime.fromisoformat(str(at_text)))
    except ValueError:
        same_time = False
    if not same_time:
        bad.append("at")
    return bad


def verify(
    db_session: Session, *, extra_checkpoints: Iterable[tuple[int, str]] = ()
) -> VerifyReport:
    """Recompute the whole chain and compare it with every published checkpoint and with
    the checkpoints an outsider kept (`extra_checkpoints`, as (seq, hash))."""
    kept = [(c.seq, c.hash) for c in db_session.scalars(select(AuditCheckpoint))]
    kept += [(int(s), h.lower()) for s, h in extra_checkpoints]
    by_seq: dict[int, str] = {}
    for seq, hex_hash in kept:
        if by_seq.setdefault(seq, hex_hash) != hex_hash:
            broken = Break(seq, "", "", "two checkpoints disagree about this record")
            return VerifyReport(0, 0, GENESIS, len(kept), broken)
    mismatches: list[tuple[int, str]] = []
    count, last_hash, broken = check_records(
        _rows(db_session, mismatches=mismatches), checkpoints=by_seq.items()
    )
    if mismatches and (broken is None or mismatches[0][0] < broken.seq):
        seq, columns = mismatches[0]
        rec = db_session.get(AuditRecord, seq)
        fields = json.loads(rec.body) if rec else {}
        broken = Break(
            seq,
            str(fields.get("at", "")),
            str(fields.get("action", "")),
            f"columns changed outside the hashed body: {columns}",
        )
        count = seq - 1
    if broken is None and head(db_session) != (count, last_hash):
        broken = Break(count, "", "", "the chain head row does not match the last record")
    return VerifyReport(count, count, last_hash, len(by_seq), broken)


def head(db_session: Session) -> tuple[int, str]:
    """The current end of the chain: (sequence number, hash)."""
    row = db_session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).one()
    return int(row.seq), str(row.hash)


def publish_checkpoint(
    db_session: Session, *, actor: Actor, day: dt.date | None = None
) -> AuditCheckpoint:
    """Publish the current chain head; the publication itself is then recorded."""
    seq, head_hash = head(db_session)
    checkpoint = AuditCheckpoint(
        day=day or utcnow().date(), seq=seq, hash=head_hash, alg=hash_algorithm()
    )
    db_session.add(checkpoint)
    db_session.flush()
    record(
        db_session,
        actor=actor,
        action=AuditAction.AUDIT_CHECKPOINT,
        object_type="audit_checkpoint",
        object_id=checkpoint.id,
        after={"seq": seq, "hash": head_hash},
    )
    return checkpoint


def export(
    db_session: Session,
    out: Path,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> int:
    """Write the records with `start` <= at < `end` (all by default) to `out` as JSON lines,
    after a header that lets the standalone checker link the first one. Returns the count."""
    query = select(AuditRecord.seq).order_by(AuditRecord.seq)
    if start is not None:
        query = query.where(AuditRecord.at >= start)
    if end is not None:
        query = query.where(AuditRecord.at < end)
    first = db_session.scalar(query.limit(1))
    last = db_session.scalar(query.order_by(None).order_by(AuditRecord.seq.desc()).limit(1))
    header: dict[str, Any] = {"schema": SCHEMA, "from_seq": first or 1, "prev_hash": GENESIS}
    if first and first > 1:
        header["prev_hash"] = db_session.scalar(
            select(AuditRecord.hash).where(AuditRecord.seq == first - 1)
        )
    header["checkpoints"] = [
        {"seq": c.seq, "hash": c.hash, "day": c.day.isoformat()}
        for c in db_session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))
        if first and last and first <= c.seq <= last
    ]
    count = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        fh.write(canonical_json(header) + "\n")
        if first is not None:
            for row in _rows(db_session, first, last):
                fh.write(canonical_json(row) + "\n")
                count += 1
    return count
