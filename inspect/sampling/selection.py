"""The arithmetic of a draw: seeds, hashes, sample sizes and the keyed-hash ranking.

Pure functions, standard library only. `verify.py` re-implements the same arithmetic
independently from the published JSON; tests check that both agree.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

SEED_BYTES = 32  # 256 bits


def new_seed() -> str:
    """A fresh 256-bit seed from the operating system's CSPRNG, as 64 hex digits."""
    return secrets.token_hex(SEED_BYTES)


def seed_bytes(seed_hex: str) -> bytes:
    """The seed's bytes; refuses anything that is not exactly 64 hex digits."""
    if len(seed_hex) != 2 * SEED_BYTES:
        raise ValueError("seed must be 64 hex digits (256 bits)")
    return bytes.fromhex(seed_hex)


def seed_sha256(seed_hex: str) -> str:
    """The commitment to a seed: SHA-256 of its 32 bytes, hex."""
    return hashlib.sha256(seed_bytes(seed_hex)).hexdigest()


def population_sha256(credit_codes: Iterable[str]) -> str:
    """SHA-256 of the sorted credit codes joined by newlines (UTF-8), hex."""
    return hashlib.sha256("\n".join(sorted(credit_codes)).encode("utf-8")).hexdigest()


def beacon_message(source: str, day: str, value: str) -> bytes:
    """The beacon's bytes as they enter the final seed: UTF-8 of "source|YYYY-MM-DD|value",
    the value written with exactly the source's decimal places (e.g. "3352.10")."""
    return f"{source}|{day}|{value}".encode()


def final_seed(secret_hex: str, beacon: bytes) -> str:
    """SHA-256(secret seed bytes ‖ beacon bytes), hex: the key of the ranking. Nobody knew
    the beacon at commit time, so nobody (the secret's holder included) knew this then."""
    return hashlib.sha256(seed_bytes(secret_hex) + beacon).hexdigest()


def population_document(included: Iterable[str], excluded: Iterable[tuple[str, str]]) -> bytes:
    """What a ceremony draw's population hash covers: canonical JSON of
    {"excluded": [[credit code, reason], …] sorted by code, "included": sorted codes}.
    The exclusions and their reasons are inside the hash, so none can be added, dropped or
    reworded after the commitment."""
    return canonical_json(
        {"excluded": sorted([list(pair) for pair in excluded]), "included": sorted(included)}
    )


def population_sha256_with_exclusions(
    included: Iterable[str], excluded: Iterable[tuple[str, str]]
) -> str:
    """SHA-256 of `population_document`, hex."""
    return hashlib.sha256(population_document(included, excluded)).hexdigest()


def rank_key(seed_hex: str, credit_code: str) -> str:
    """HMAC-SHA256 keyed by the seed over the credit code, hex: the enterprise's lot."""
    return hmac.new(seed_bytes(seed_hex), credit_code.encode("utf-8"), hashlib.sha256).hexdigest()


def rank(seed_hex: str, credit_codes: Iterable[str]) -> list[str]:
    """Credit codes in draw order: ascending keyed hash (ties, never seen in practice, by code)."""
    key = seed_bytes(seed_hex)
    lots = [
        (hmac.new(key, code.encode("utf-8"), hashlib.sha256).hexdigest(), code)
        for code in credit_codes
    ]
    return [code for _, code in sorted(lots)]


def parse_ratio(value: Any) -> Decimal:
    """A sampling ratio ("0.1" or "10%") as an exact decimal in [0, 1] with at most 4 decimal
    places.

    Exact decimals keep n = ceil(ratio × N) the same in every language: with binary floats
    0.07 × 100 is 7.000000000000001 and its ceiling would be 8.
    """
    text = str(value).strip().replace("％", "%")
    try:
        # Spreadsheets in China often say 10% rather than 0.1.
        ratio = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except (InvalidOperation, ValueError):
        raise ValueError(f"抽查比例 {value!r} 不是数字") from None
    if not ratio.is_finite() or ratio < 0 or ratio > 1:
        raise ValueError(f"抽查比例 {value} 应在 0 到 1 之间")
    if ratio.as_tuple().exponent < -4:  # type: ignore[operator]
        raise ValueError(f"抽查比例 {value} 最多保留 4 位小数")
    return ratio.normalize() if ratio else Decimal(0)


def sample_size(
    size: int, *, ratio: Decimal | str | None, count: int | None, rounding: str = "ceil"
) -> int:
    """How many to draw from a stratum of `size`: the given count (at most `size`) or
    ratio × size rounded up ("ceil", the default: a non-empty stratum is never skipped) or
    down ("floor"), computed exactly."""
    if count is not None:
        return min(int(count), size)
    if ratio is None:
        return 0
    exact = Decimal(str(ratio)) * size
    return min(size, math.ceil(exact) if rounding == "ceil" else math.floor(exact))


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys, no spaces, UTF-8: the bytes a commitment digest is taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def commitment_sha256(commitment: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a commitment, hex."""
    return hashlib.sha256(canonical_json(commitment)).hexdigest()
