"""The draw arithmetic and the standalone verifier, without a database."""

from __future__ import annotations

import copy
import hashlib
import hmac
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkonce.registry.creditcode import make_credit_code
from checkonce.sampling import selection
from checkonce.sampling.verify import verify_published

SEED = "5eed" * 16
CODES = [make_credit_code("91", "610113", f"{i:08d}") for i in range(200)]


def flip_bit(seed_hex: str, bit: int) -> str:
    raw = bytearray(bytes.fromhex(seed_hex))
    raw[bit // 8] ^= 1 << (bit % 8)
    return raw.hex()


def test_same_seed_same_selection():
    assert selection.rank(SEED, CODES) == selection.rank(SEED, list(reversed(CODES)))
    assert selection.rank(SEED, CODES)[:20] == selection.rank(SEED, sorted(CODES))[:20]


@pytest.mark.parametrize("bit", [0, 7, 128, 255])
def test_one_bit_different_seed_different_selection(bit):
    other = flip_bit(SEED, bit)
    assert other != SEED and bin(int(other, 16) ^ int(SEED, 16)).count("1") == 1
    assert selection.rank(SEED, CODES)[:20] != selection.rank(other, CODES)[:20]


def test_seed_and_population_hashes():
    assert selection.seed_sha256(SEED) == hashlib.sha256(bytes.fromhex(SEED)).hexdigest()
    assert selection.population_sha256(CODES) == selection.population_sha256(reversed(CODES))
    assert (
        selection.population_sha256(CODES)
        == hashlib.sha256("\n".join(sorted(CODES)).encode()).hexdigest()
    )
    with pytest.raises(ValueError):
        selection.seed_sha256("abcd")
    assert len(selection.new_seed()) == 64 and selection.new_seed() != selection.new_seed()


def test_sample_size_is_exact_decimal():
    # with binary floats ceil(0.07 × 100) would be 8
    assert math.ceil(0.07 * 100) == 8
    assert selection.sample_size(100, ratio="0.07", count=None) == 7
    assert selection.sample_size(10, ratio="0.03", count=None) == 1
    assert selection.sample_size(10, ratio="0.03", count=None, rounding="floor") == 0
    assert selection.sample_size(0, ratio="0.7", count=None) == 0
    assert selection.sample_size(5, ratio=None, count=9) == 5
    assert selection.sample_size(5, ratio="1", count=None) == 5
    assert (
        str(selection.parse_ratio("10%")) == "0.1"
        and str(selection.parse_ratio("3.5％")) == "0.035"
    )
    assert str(selection.parse_ratio(0.07)) == "0.07" and str(selection.parse_ratio("1")) == "1"
    for bad in ("1.5", "-0.1", "abc", "0.12345", "150%", "%"):
        with pytest.raises(ValueError):
            selection.parse_ratio(bad)


@given(size=st.integers(0, 5000), basis_points=st.integers(0, 10000))
def test_sample_size_matches_exact_fraction(size, basis_points):
    ratio = selection.parse_ratio(f"{basis_points / 10000:.4f}")
    expected = math.ceil(Fraction(basis_points, 10000) * size)
    assert selection.sample_size(size, ratio=ratio, count=None) == expected


def published(seed=SEED, strata=None):
    """A publication built by hand, the way the service builds one."""
    strata = strata or {
        "A": (CODES[:50], "0.03", None),
        "B": (CODES[50:130], "0.1", None),
        "C": (CODES[130:], None, 12),
    }
    committed, shown = [], []
    for name, (codes, ratio, count) in strata.items():
        n = selection.sample_size(len(codes), ratio=ratio, count=count)
        committed.append(
            {
                "name": name,
                "ratio": ratio,
                "count": count,
                "rounding": "ceil",
                "size": len(codes),
                "n": n,
                "population_sha256": selection.population_sha256(codes),
            }
        )
        shown.append(
            {"name": name, "population": sorted(codes), "selected": selection.rank(seed, codes)[:n]}
        )
    everyone = [c for codes, _, _ in strata.values() for c in codes]
    commitment = {
        "draw": 1,
        "seed_sha256": selection.seed_sha256(seed),
        "population_sha256": selection.population_sha256(everyone),
        "population_size": len(everyone),
        "strata": committed,
    }
    return {
        "schema": "checkonce.draw/1",
        "draw": 1,
        "commitment": commitment,
        "commitment_sha256": selection.commitment_sha256(commitment),
        "seed": seed,
        "strata": shown,
    }


def redo_in_a_few_lines(pub: dict) -> bool:
    """The verification anyone can write from the published JSON: here from scratch."""
    key = bytes.fromhex(pub["seed"])
    if hashlib.sha256(key).hexdigest() != pub["commitment"]["seed_sha256"]:
        return False
    sizes = {s["name"]: s["n"] for s in pub["commitment"]["strata"]}
    for stratum in pub["strata"]:
        lots = sorted(
            (hmac.new(key, c.encode(), hashlib.sha256).hexdigest(), c)
            for c in stratum["population"]
        )
        if [c for _, c in lots[: sizes[stratum["name"]]]] != stratum["selected"]:
            return False
    return True


def test_verifier_accepts_an_honest_draw():
    pub = published()
    result = verify_published(pub)
    assert result.ok, result.problems
    assert [(s.name, s.size, s.n) for s in result.strata] == [
        ("A", 50, 2),
        ("B", 80, 8),
        ("C", 70, 12),
    ]
    assert redo_in_a_few_lines(pub)
    assert "验证通过" in result.summary()


def tamper_selection(pub):
    stratum = pub["strata"][1]
    outsider = next(c for c in stratum["population"] if c not in stratum["selected"])
    stratum["selected"][-1] = outsider


def tamper_seed(pub):
    pub["seed"] = flip_bit(pub["seed"], 3)


def tamper_seed_and_hash(pub):
    # a new seed with a matching hash still breaks the announced commitment digest
    pub["seed"] = flip_bit(pub["seed"], 3)
    pub["commitment"]["seed_sha256"] = selection.seed_sha256(pub["seed"])


def tamper_population(pub):
    pub["strata"][0]["population"].pop()


def tamper_stratum_move(pub):
    code = pub["strata"][0]["population"].pop()
    pub["strata"][1]["population"].append(code)


def tamper_order(pub):
    pub["strata"][2]["selected"].reverse()


def tamper_n(pub):
    pub["commitment"]["strata"][0]["n"] += 1


@pytest.mark.parametrize(
    "tamper",
    [
        tamper_selection,
        tamper_seed,
        tamper_seed_and_hash,
        tamper_population,
        tamper_stratum_move,
        tamper_order,
        tamper_n,
    ],
)
def test_verifier_detects_tampering(tamper):
    pub = published()
    tamper(pub)
    result = verify_published(pub)
    assert not result.ok and result.problems
    assert "验证失败" in result.summary()


def test_verifier_handles_garbage():
    assert not verify_published({"schema": "other"}).ok
    pub = published()
    del pub["seed"]
    assert "种子尚未公开" in verify_published(pub).problems[0]
    pub = published()
    del pub["commitment"]["strata"]
    assert not verify_published(pub).ok


@settings(max_examples=40, deadline=None)
@given(
    seed=st.binary(min_size=32, max_size=32).map(bytes.hex),
    sizes=st.lists(st.integers(0, 30), min_size=1, max_size=4),
    basis_points=st.integers(0, 10000),
)
def test_verifier_agrees_with_the_selection_for_any_seed(seed, sizes, basis_points):
    strata, start = {}, 0
    for name, size in zip("ABCD", sizes, strict=False):
        strata[name] = (
            CODES[start : start + size],
            str(selection.parse_ratio(f"{basis_points / 10000:.4f}")),
            None,
        )
        start += size
    pub = published(seed, strata)
    assert verify_published(copy.deepcopy(pub)).ok
    assert redo_in_a_few_lines(pub)
