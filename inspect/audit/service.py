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

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from checkonce.audit import chain
from checkonce.audit.actions import AuditAction
from checkonce.audit.actor import Actor
from checkonce.audit.chain import (
    CHECKPOINT,
    GENESIS,
    MISSING,
    SCHEMA,
    Break,
    canonical_json,
    chain_hash,
    check_records,
)
from checkonce.audit.models import AuditCheckpoint, AuditHead, AuditRecord
from checkonce.db import utcnow
from checkonce.errors import CheckOnceError

# Kinds of break only the database shows (beside those of checkonce.audit.chain).
COLUMNS = "columns"
HEAD = "head"
APPENDED = "appended"

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
            why = "two checkpoints disagree about this record"
            broken = Break(seq, "", "", why, CHECKPOINT)
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
            COLUMNS,
        )
        count = seq - 1
    if broken is None:
        broken = _head_break(db_session, count, last_hash)
        if broken is not None and broken.kind == APPENDED:
            count = broken.seq - 1  # the records up to the head are good
    return VerifyReport(count, count, last_hash, len(by_seq), broken)


def _head_break(db_session: Session, count: int, last_hash: str) -> Break | None:
    """The chain head row against the last record: records deleted from the end leave the
    head ahead of the trail; a record added behind the application's back is not the head."""
    head_seq, head_hash = head(db_session)
    if (head_seq, head_hash) == (count, last_hash):
        return None
    if head_seq > count:
        why = f"records #{count + 1}–#{head_seq} are missing (deleted from the end?)"
        return Break(count + 1, "", "", why, MISSING)
    if head_seq < count:
        rec = db_session.get(AuditRecord, head_seq + 1)
        fields = json.loads(rec.body) if rec else {}
        return Break(
            head_seq + 1,
            str(fields.get("at", "")),
            str(fields.get("action", "")),
            "added after the chain head: not written by CheckOnce",
            APPENDED,
        )
    return Break(count, "", "", "the chain head row does not match the last record", HEAD)


def head(db_session: Session) -> tuple[int, str]:
    """The current end of the chain: (sequence number, hash)."""
    row = db_session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).one()
    return int(row.seq), str(row.hash)


def publish_checkpoint(
    db_session: Session, *, actor: Actor, day: dt.date | None = None
) -> AuditCheckpoint:
    """Publish the current chain head; the publication itself is then recorded. An empty
    trail has nothing to vouch for: publishing its head would only be a promise of nothing."""
    seq, head_hash = head(db_session)
    if seq == 0:
        raise CheckOnceError("审计链还没有任何记录，无需公布检查点")
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


def latest_checkpoints(
    db_session: Session, *, limit: int = 20, offset: int = 0
) -> tuple[list[AuditCheckpoint], int]:
    """Published checkpoints, newest first, and how many there are."""
    total = db_session.scalar(select(func.count()).select_from(AuditCheckpoint)) or 0
    rows = db_session.scalars(
        select(AuditCheckpoint)
        .order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def checkpoint_is_due(db_session: Session) -> bool:
    """Whether anything was recorded since the last checkpoint besides its own record (the
    daily job publishes nothing new otherwise)."""
    last = db_session.scalar(select(func.max(AuditCheckpoint.seq)))
    seq, _hash = head(db_session)
    return seq > 0 and (last is None or seq > last + 1)


BREAK_WORDS = {
    chain.MISSING: "记录缺失（被删除？）",
    chain.REORDERED: "序号重复或次序错乱（被插入？）",
    chain.WRONG_SEQ: "记录内容中的序号与其位置不符",
    chain.UNLINKED: "未接续上一条记录的哈希（被插入或替换？）",
    chain.CHANGED: "内容被改动：哈希不符",
    chain.CHECKPOINT: "与已公布的检查点不符（历史被改写？）",
    chain.TRUNCATED: "审计链在已公布的检查点之前就结束了（被截断？）",
    COLUMNS: "查询列被改动，与记录的哈希内容不符",
    APPENDED: "链头之后多出的记录：不是 CheckOnce 写入的（被插入？）",
    HEAD: "链头与最后一条记录不符",
}


def describe_break(broken: Break) -> str:
    """The first break in words for people (Chinese): record number, time, action, why."""
    parts = [f"第 {broken.seq} 条记录"]
    if broken.at:
        try:
            moment = local_moment(dt.datetime.fromisoformat(broken.at))
            parts.append(f"{moment:%Y-%m-%d %H:%M:%S}")
        except ValueError:
            parts.append(broken.at)
    if broken.action:
        try:
            parts.append(AuditAction(broken.action).label)
        except ValueError:
            parts.append(broken.action)
    words = BREAK_WORDS.get(broken.kind, broken.reason)
    if broken.kind == chain.MISSING:
        # a missing record has no time of its own: say what it followed
        after = "，".join(parts[1:])
        return f"{parts[0]}（{'紧接 ' + after + ' 之后' if after else '在链的开头'}）：{words}"
    return f"{parts[0]}（{'，'.join(parts[1:]) or '时间与操作不明'}）：{words}"


def local_moment(moment: dt.datetime) -> dt.datetime:
    """A stored moment in the jurisdiction's time zone (SQLite hands back naive UTC)."""
    from zoneinfo import ZoneInfo

    from checkonce.policy import jurisdiction_policy

    zone = ZoneInfo(jurisdiction_policy().jurisdiction.timezone)
    return _as_utc(moment).astimezone(zone)
