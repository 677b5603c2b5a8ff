"""Standalone checker of the audit trail's hash chain (checkonce.audit/1).

It imports nothing from CheckOnce and needs only the Python standard library, so anyone can
copy this file and check an export (`checkonce audit export`) without CheckOnce:

    python3 chain.py export.jsonl [--checkpoint SEQ:HASH ...]

The chain:
1. each record's `body` is the canonical JSON (sorted keys, no spaces, UTF-8, non-ASCII kept)
   of what happened: seq, at, actor, channel, action, object, enterprise_id, before, after,
   detail, request_id and the hash algorithm;
2. hash(record) = H((hash of the previous record as lower-case hex) + body), UTF-8, with the
   64 zeros of GENESIS before the first record; H is SHA-256 by default, or SM3 (GB/T 32905)
   where a deployment's policy chooses it;
3. sequence numbers start at 1 and have no gap: a deleted record shows as a gap, a changed
   one as a hash that does not match, an inserted one as a repeated number or a broken link;
4. a checkpoint (seq, hash) published earlier must match the record of that seq, and the
   trail must still reach it: a truncated trail or a rewritten history fails here.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SCHEMA = "checkonce.audit/1"
GENESIS = "0" * 64
ALGORITHMS = ("sha256", "sm3")


def canonical_json(value: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, non-ASCII kept."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def digest(alg: str, text: str) -> str:
    """Hex digest of `text` (UTF-8) under `alg` ("sha256" or "sm3", as OpenSSL provides it)."""
    if alg not in ALGORITHMS:
        raise ValueError(f"unknown hash algorithm {alg!r}; use one of {ALGORITHMS}")
    return hashlib.new(alg, text.encode("utf-8")).hexdigest()


def chain_hash(alg: str, prev_hash: str, body: str) -> str:
    """The hash of a record whose predecessor's hash is `prev_hash`."""
    return digest(alg, prev_hash + body)


@dataclass(frozen=True)
class Break:
    """The first place where the trail does not hold."""

    seq: int
    at: str
    action: str
    reason: str

    def __str__(self) -> str:
        return f"record #{self.seq} ({self.at}, {self.action}): {self.reason}"


def _field(body: str) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def check_records(
    records: Iterable[Mapping[str, Any]],
    *,
    checkpoints: Iterable[tuple[int, str]] = (),
    start_prev_hash: str = GENESIS,
    start_seq: int = 1,
) -> tuple[int, str, Break | None]:
    """Walk `records` (dicts with seq, body, prev_hash, hash, alg) in order.

    Returns (records checked, hash of the last good record, first break or None). A trail
    exported from the middle is checked from `start_seq` with the hash before it."""
    wanted = dict(checkpoints)
    prev_hash, expected_seq, count = start_prev_hash, start_seq, 0
    last_at, last_action = "", ""
    for rec in records:
        seq = int(rec["seq"])
        body = str(rec["body"])
        fields = _field(body)
        at, action = str(fields.get("at", "")), str(fields.get("action", ""))
        if seq != expected_seq:
            if seq > expected_seq:
                why = f"records #{expected_seq}–#{seq - 1} are missing (deleted?)"
                return count, prev_hash, Break(expected_seq, last_at, last_action, why)
            return (
                count,
                prev_hash,
                Break(seq, at, action, "sequence number repeated or out of order"),
            )
        if fields.get("seq") != seq:
            return (
                count,
                prev_hash,
                Break(seq, at, action, "body does not carry this sequence number"),
            )
        alg = str(rec.get("alg") or fields.get("alg") or "sha256")
        if rec.get("prev_hash") != prev_hash:
            return count, prev_hash, Break(seq, at, action, "does not link to the record before it")
        if chain_hash(alg, prev_hash, body) != rec.get("hash"):
            return count, prev_hash, Break(seq, at, action, "content changed: hash does not match")
        if seq in wanted and wanted.pop(seq) != rec["hash"]:
            return count, prev_hash, Break(seq, at, action, "differs from the published checkpoint")
        prev_hash, expected_seq, count = str(rec["hash"]), seq + 1, count + 1
        last_at, last_action = at, action
    if wanted:
        missing = min(wanted)
        why = f"the trail ends at #{expected_seq - 1} but checkpoint #{missing} was published (truncated?)"
        return count, prev_hash, Break(missing, "", "", why)
    return count, prev_hash, None


def read_export(path: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An export file: a header line ({"schema", "from_seq", "prev_hash", "checkpoints"})
    followed by one JSON record per line."""
    with open(path, encoding="utf-8") as fh:
        lines = [line for line in fh if line.strip()]
    if not lines:
        raise ValueError(f"{path} is empty")
    header = json.loads(lines[0])
    if header.get("schema") != SCHEMA:
        raise ValueError(f"{path} is not a {SCHEMA} export")
    return header, [json.loads(line) for line in lines[1:]]


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(__doc__ or "")
        return 2
    path, extra = argv[0], argv[1:]
    header, records = read_export(path)
    checkpoints = [(int(c["seq"]), str(c["hash"])) for c in header.get("checkpoints", [])]
    while extra:
        flag, value, extra = extra[0], extra[1] if len(extra) > 1 else "", extra[2:]
        if flag != "--checkpoint" or ":" not in value:
            sys.stderr.write("usage: chain.py EXPORT.jsonl [--checkpoint SEQ:HASH ...]\n")
            return 2
        seq, _, hex_hash = value.partition(":")
        checkpoints.append((int(seq), hex_hash.strip().lower()))
    start = int(header.get("from_seq", 1))
    checkpoints = [(s, h) for s, h in checkpoints if s >= start]
    count, head, broken = check_records(
        records,
        checkpoints=checkpoints,
        start_prev_hash=str(header.get("prev_hash", GENESIS)),
        start_seq=start,
    )
    if broken:
        sys.stdout.write(f"BROKEN after {count} good records: {broken}\n")
        return 1
    sys.stdout.write(f"OK: {count} records from #{start}, chain head {head}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
