"""Standalone verifier of a published draw (checkonce.draw/1).

Needs only the published JSON and the Python standard library; it deliberately imports
nothing from CheckOnce so anyone can copy this file (or redo it in a few lines of any
language) and check a draw:

1. SHA-256(bytes of the seed) must equal the committed `seed_sha256`;
2. SHA-256 of each stratum's sorted credit codes joined by "\\n" must equal the committed
   stratum hash, and the same over all strata together the committed population hash;
3. n = the given count (at most the stratum size) or ratio × size with exact decimals,
   rounded up ("rounding": "ceil", the default) or down ("floor");
4. rank each stratum by HMAC-SHA256(key = seed bytes, message = credit code), ascending hex,
   ties by credit code; the first n must be exactly the published selection, in order;
5. SHA-256 of the canonical commitment JSON (sorted keys, no spaces, UTF-8) must equal
   `commitment_sha256`, the digest announced before the draw.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

SCHEMA = "checkonce.draw/1"


@dataclass
class StratumCheck:
    """The recomputation of one stratum."""

    name: str
    size: int
    n: int
    selected: list[str]
    matches: bool


@dataclass
class VerifyResult:
    """Outcome of verifying a published draw: `ok` only when every check passed."""

    draw: Any = None
    ok: bool = False
    problems: list[str] = field(default_factory=list)
    strata: list[StratumCheck] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people (Chinese)."""
        if self.ok:
            picked = sum(s.n for s in self.strata)
            return (
                f"抽取 {self.draw} 验证通过：种子、总体与各层抽中名单全部一致（共抽中 {picked} 家）"
            )
        return f"抽取 {self.draw} 验证失败：" + "；".join(self.problems)


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _codes_hash(codes: list[str]) -> str:
    return _sha256_hex("\n".join(sorted(codes)).encode("utf-8"))


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _n(size: int, ratio: Any, count: Any, rounding: str) -> int:
    if count is not None:
        return min(int(count), size)
    if ratio is None:
        return 0
    exact = Decimal(str(ratio)) * size
    return min(size, math.ceil(exact) if rounding == "ceil" else math.floor(exact))


def verify_published(published: dict[str, Any]) -> VerifyResult:
    """Recompute a published draw from its JSON alone and report match or mismatch."""
    result = VerifyResult(draw=published.get("draw") if isinstance(published, dict) else None)
    problems = result.problems
    try:
        if published.get("schema") != SCHEMA:
            problems.append(f"不是 {SCHEMA} 格式的抽取公示文件")
            return result
        commitment = published["commitment"]
        seed_hex = published.get("seed")
        if not seed_hex:
            problems.append("种子尚未公开，只能核对承诺，无法复核抽取")
            return result
        try:
            key = bytes.fromhex(seed_hex)
        except ValueError:
            problems.append("公开的种子不是十六进制字符串")
            return result
        if len(key) != 32:
            problems.append("公开的种子不是 256 位")
        if _sha256_hex(key) != commitment["seed_sha256"]:
            problems.append("种子与事先公布的种子哈希不符")
        if _sha256_hex(_canonical(commitment)) != published.get("commitment_sha256"):
            problems.append("承诺内容与事先公布的承诺摘要不符")

        committed = {s["name"]: s for s in commitment["strata"]}
        published_strata = {s["name"]: s for s in published["strata"]}
        if set(committed) != set(published_strata):
            problems.append("公示的分层与承诺的分层不一致")
        everyone: list[str] = []
        for name in sorted(committed):
            spec = committed[name]
            shown = published_strata.get(name, {"population": [], "selected": []})
            population = list(shown["population"])
            everyone.extend(population)
            if len(set(population)) != len(population):
                problems.append(f"{name} 层总体中有重复的信用代码")
            if len(population) != spec["size"]:
                problems.append(f"{name} 层总体数量 {len(population)} 与承诺的 {spec['size']} 不符")
            if _codes_hash(population) != spec["population_sha256"]:
                problems.append(f"{name} 层总体名单与承诺的哈希不符")
            n = _n(
                len(population), spec.get("ratio"), spec.get("count"), spec.get("rounding", "ceil")
            )
            if n != spec["n"]:
                problems.append(f"{name} 层应抽 {n} 家，承诺写的是 {spec['n']} 家")
            lots = sorted(
                (hmac.new(key, code.encode("utf-8"), hashlib.sha256).hexdigest(), code)
                for code in population
            )
            expected = [code for _, code in lots[:n]]
            matches = expected == list(shown["selected"])
            if not matches:
                problems.append(f"{name} 层抽中名单与按种子重算的结果不符")
            result.strata.append(StratumCheck(name, len(population), n, expected, matches))
        if len(set(everyone)) != len(everyone):
            problems.append("同一企业出现在多个分层中")
        if len(everyone) != commitment["population_size"]:
            problems.append("总体数量与承诺不符")
        if _codes_hash(everyone) != commitment["population_sha256"]:
            problems.append("总体名单与承诺的总体哈希不符")
    except (KeyError, TypeError, AttributeError) as exc:
        problems.append(f"公示文件缺少或写错了字段：{exc}")
    result.ok = not problems
    return result


def main(argv: list[str] | None = None) -> int:
    """`python verify.py published.json`: prints the verdict, exit 0 when it matches."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    with open(args[0], encoding="utf-8") as handle:
        outcome = verify_published(json.load(handle))
    sys.stdout.write(outcome.summary() + "\n")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
