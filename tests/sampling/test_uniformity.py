"""Uniformity of the keyed-hash ranking: over many seeds every enterprise of a stratum is
selected with frequency n/N. Chi-square goodness-of-fit tests on a fixed seed list."""

from __future__ import annotations

import hashlib

from scipy import stats

from checkonce.registry.creditcode import make_credit_code
from checkonce.sampling import selection

N, n, SEEDS = 40, 7, 4000
CODES = [make_credit_code("91", "610104", f"U{i:07d}") for i in range(N)]
# Fixed, documented seed list: SHA-256 of "checkonce-uniformity-<i>".
SEED_LIST = [hashlib.sha256(f"checkonce-uniformity-{i}".encode()).hexdigest() for i in range(SEEDS)]


def report(capsys, record_property, label, statistic, dof, p_value, extra=""):
    record_property(f"{label}_chi2", round(float(statistic), 3))
    record_property(f"{label}_dof", dof)
    record_property(f"{label}_p_value", round(float(p_value), 4))
    with capsys.disabled():
        print(  # noqa: T201 - the figures are part of the test report
            f"\n{label}: seeds={SEEDS} {extra} chi2={statistic:.2f} dof={dof} p={p_value:.4f}"
        )


def test_selection_frequency_is_uniform(record_property, capsys):
    counts = dict.fromkeys(CODES, 0)
    for seed in SEED_LIST:
        for code in selection.rank(seed, CODES)[:n]:
            counts[code] += 1
    observed = [counts[c] for c in CODES]
    expected = SEEDS * n / N
    assert sum(observed) == SEEDS * n
    pearson, _ = stats.chisquare(observed, [expected] * N)
    # Each seed picks n of N without replacement, so a count's variance is E·(1 − n/N) and
    # counts are negatively correlated; dividing Pearson's statistic by (1 − n/N)·N/(N − 1)
    # makes it exactly chi-square with N − 1 degrees of freedom under uniform selection.
    statistic = pearson / ((1 - n / N) * N / (N - 1))
    p_value = stats.chi2.sf(statistic, N - 1)
    report(
        capsys,
        record_property,
        "membership",
        statistic,
        N - 1,
        p_value,
        f"N={N} n={n} expected={expected:.0f} min={min(observed)} max={max(observed)} pearson={pearson:.2f}",
    )
    # Deterministic seed list: this either always passes or never. 0.001 = one in a thousand.
    assert p_value > 0.001


def test_first_pick_is_uniform(record_property, capsys):
    """n = 1 per seed: the counts are exactly multinomial, scipy's test applies as is."""
    counts = dict.fromkeys(CODES, 0)
    for seed in SEED_LIST:
        counts[selection.rank(seed, CODES)[0]] += 1
    statistic, p_value = stats.chisquare([counts[c] for c in CODES])
    report(capsys, record_property, "first_pick", statistic, N - 1, p_value, f"N={N} n=1")
    assert p_value > 0.001


def test_position_of_each_enterprise_is_uniform(record_property, capsys):
    """Not only membership: the rank of one enterprise is uniform over 1..N."""
    positions = [0] * N
    for seed in SEED_LIST:
        positions[selection.rank(seed, CODES).index(CODES[0])] += 1
    statistic, p_value = stats.chisquare(positions)
    report(capsys, record_property, "rank_of_one", statistic, N - 1, p_value, f"N={N}")
    assert p_value > 0.001
