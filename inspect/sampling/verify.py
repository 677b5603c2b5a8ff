"""Standalone verifier of a published draw (checkonce.draw/2, and the older checkonce.draw/1).

Needs only the published JSON and the Python standard library; it deliberately imports
nothing from CheckOnce so anyone can copy this file (or redo it in a few lines of any
language) and check a draw:

    python verify.py published.json [--commitment HEX]

`--commitment HEX` is the commitment digest YOU wrote down when the draw was announced
(it is on the public draw list from the moment of commit). Without it, a wholly re-forged
file (new seed, new population, new digest, all consistent) would pass; with it, it fails.

The arithmetic of a checkonce.draw/2 file, byte for byte:

1. secret seed: 64 hex digits = 32 bytes S. SHA-256(S) must equal `commitment.seed_sha256`.
2. beacon: the public number named in `commitment.beacon` (source and day, fixed at commit;
   default the Shanghai Composite Index close of the first trading day after the commit).
   Its value V is written with exactly the source's decimal places ("3352.10"). The beacon
   bytes are B = UTF-8 of "<source>|<YYYY-MM-DD>|<V>", e.g. "sse-composite-close|2027-01-05|3352.10".
   The final seed is F = SHA-256(S ‖ B) (32 bytes), published in hex as `final_seed`.
   Compare V yourself with the exchange's published close of that day.
3. population: each stratum's hash is SHA-256 of its sorted credit codes joined by "\\n"
   (UTF-8). The population hash is SHA-256 of the canonical JSON (sorted keys, separators
   "," and ":", UTF-8 unescaped) of {"excluded": [[credit code, reason], …] sorted,
   "included": [every stratum's codes, sorted]}: the exclusions and their reasons are inside
   it, so none can be added, removed or reworded after the commitment.
4. n = the given count (at most the stratum size) or ratio × size with exact decimals,
   rounded up ("rounding": "ceil", the default) or down ("floor").
5. rank each stratum by HMAC-SHA256(key = F, message = credit code UTF-8), ascending hex,
   ties by credit code; the first n must be exactly the published selection, in order (for
   a draw abandoned before its run, the `would_have_selected` lists, when its beacon was
   recorded).
6. SHA-256 of the canonical commitment JSON must equal `commitment_sha256`, and the digest
   you recorded at commit time.

A checkonce.draw/1 file (before the beacon ceremony) has no beacon: F = S, and the population
hash is over the included codes only (sorted, "\\n"-joined).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

SCHEMA = "checkonce.draw/2"
LEGACY_SCHEMA = "checkonce.draw/1"
SCHEMAS = (SCHEMA, LEGACY_SCHEMA)
HEX64 = re.compile(r"^[0-9a-f]{64}$")


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
    beacon: str = ""

    def summary(self) -> str:
        """One line for people (Chinese)."""
        if self.ok:
            picked = sum(s.n for s in self.strata)
            beacon = f"；随机源 {self.beacon}，请与公开数据比对" if self.beacon else ""
            return (
                f"抽取 {self.draw} 验证通过：种子、随机源、总体（含排除名单）与各层抽中名单全部一致"
                f"（共抽中 {picked} 家）{beacon}"
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


def _ranked(key: bytes, population: list[str], n: int) -> list[str]:
    lots = sorted(
        (hmac.new(key, code.encode("utf-8"), hashlib.sha256).hexdigest(), code)
        for code in population
    )
    return [code for _, code in lots[:n]]


def check_commitment(published: dict[str, Any], recorded: str) -> list[str]:
    """Problems when the file's commitment is not the one recorded at commit time."""
    text = (recorded or "").strip().lower()
    if not HEX64.match(text):
        return ["记录的承诺摘要应为 64 位十六进制数字"]
    problems = []
    if str(published.get("commitment_sha256", "")).lower() != text:
        problems.append("文件的承诺摘要与您在发起时记录的承诺摘要不符（文件可能被整体伪造）")
    elif _sha256_hex(_canonical(published.get("commitment"))) != text:
        problems.append("文件中的承诺内容与您记录的承诺摘要不符")
    return problems


def _final_key(published: dict, commitment: dict, secret: bytes, result: VerifyResult) -> bytes:
    """The ranking key: F = SHA-256(S ‖ B) (checkonce.draw/2), or S itself (/1)."""
    if published.get("schema") == LEGACY_SCHEMA:
        return secret
    problems = result.problems
    announced = commitment["beacon"]
    beacon = published.get("beacon") or {}
    if beacon.get("value") in (None, ""):
        if published.get("state") != "abandoned":  # abandoned before its beacon: nothing to rank
            problems.append("随机源数值尚未录入，无法复算最终种子")
        return b""
    if (beacon.get("source"), beacon.get("date")) != (announced["source"], announced["date"]):
        problems.append("录入的随机源或日期与承诺时公布的不一致")
    message = f"{announced['source']}|{announced['date']}|{beacon['value']}".encode()
    final = hashlib.sha256(secret + message).digest()
    result.beacon = (
        f"{announced.get('name', announced['source'])} {announced['date']} = {beacon['value']}"
    )
    if final.hex() != published.get("final_seed"):
        problems.append("最终种子与 SHA-256(种子 ‖ 随机源) 不符")
    return final


def verify_published(published: dict[str, Any], *, commitment: str | None = None) -> VerifyResult:
    """Recompute a published draw from its JSON alone and report match or mismatch; with
    `commitment` (the digest recorded at commit time), also check the file is that draw's."""
    result = VerifyResult(draw=published.get("draw") if isinstance(published, dict) else None)
    problems = result.problems
    try:
        if published.get("schema") not in SCHEMAS:
            problems.append(f"不是 {SCHEMA} 格式的抽取公示文件")
            return result
        if commitment is not None:
            problems.extend(check_commitment(published, commitment))
        announced = published["commitment"]
        seed_hex = published.get("seed")
        if not seed_hex:
            problems.append("种子尚未公开，只能核对承诺，无法复核抽取")
            return result
        try:
            secret = bytes.fromhex(seed_hex)
        except ValueError:
            problems.append("公开的种子不是十六进制字符串")
            return result
        if len(secret) != 32:
            problems.append("公开的种子不是 256 位")
        if _sha256_hex(secret) != announced["seed_sha256"]:
            problems.append("种子与事先公布的种子哈希不符")
        if _sha256_hex(_canonical(announced)) != published.get("commitment_sha256"):
            problems.append("承诺内容与事先公布的承诺摘要不符")
        key = _final_key(published, announced, secret, result)
        ran = published.get("state") != "abandoned"

        committed = {s["name"]: s for s in announced["strata"]}
        shown_strata = {s["name"]: s for s in published["strata"]}
        if set(committed) != set(shown_strata):
            problems.append("公示的分层与承诺的分层不一致")
        everyone: list[str] = []
        for name in sorted(committed):
            spec = committed[name]
            shown = shown_strata.get(name, {"population": [], "selected": []})
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
            if not key:
                continue
            expected = _ranked(key, population, n)
            listed = shown.get("selected") if ran else shown.get("would_have_selected")
            matches = expected == list(listed or [])
            if not matches:
                problems.append(f"{name} 层抽中名单与按种子重算的结果不符")
            result.strata.append(StratumCheck(name, len(population), n, expected, matches))
        if len(set(everyone)) != len(everyone):
            problems.append("同一企业出现在多个分层中")
        if len(everyone) != announced["population_size"]:
            problems.append("总体数量与承诺不符")
        if published["schema"] == LEGACY_SCHEMA:
            if _codes_hash(everyone) != announced["population_sha256"]:
                problems.append("总体名单与承诺的总体哈希不符")
        else:
            excluded = [[e["credit_code"], e["reason"]] for e in published["excluded"]]
            if {code for code, _ in excluded} & set(everyone):
                problems.append("排除名单中的企业又出现在总体中")
            document = {"excluded": sorted(excluded), "included": sorted(everyone)}
            if _sha256_hex(_canonical(document)) != announced["population_sha256"]:
                problems.append("总体名单或排除名单（含排除理由）与承诺的总体哈希不符")
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        problems.append(f"公示文件缺少或写错了字段：{exc}")
    result.ok = not problems
    return result


def main(argv: list[str] | None = None) -> int:
    """`python verify.py published.json [--commitment HEX]`: prints the verdict, exit 0 when
    everything matches."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    recorded = None
    if "--commitment" in args:
        at = args.index("--commitment")
        if at + 1 >= len(args):
            sys.stderr.write("--commitment 后面应写承诺摘要（64 位十六进制）\n")
            return 2
        recorded = args[at + 1]
        del args[at : at + 2]
    if len(args) != 1:
        sys.stderr.write("用法：python verify.py 公示文件.json [--commitment 承诺摘要]\n")
        return 2
    with open(args[0], encoding="utf-8") as handle:
        outcome = verify_published(json.load(handle), commitment=recorded)
    sys.stdout.write(outcome.summary() + "\n")
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
