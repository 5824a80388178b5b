"""The KS p-value against scipy's exact one-sample distribution (kstwo), which it replaces past EXACT_BELOW."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from driftline.detectors.stats.kolmogorov import EXACT_BELOW, ks_p_value

SIZES = (EXACT_BELOW, 50, 99, 200, 1_000, 6_000, 20_000)
X = np.linspace(0.01, 2.5, 500)
"""``D·√n``: the p-value's whole range at every size (1.0 at the low end, ~1e-5 at the high)."""


def ds(n: int) -> np.ndarray:
    return X / np.sqrt(n)


@pytest.mark.parametrize("n", SIZES)
def test_within_a_few_percent_of_the_exact_distribution_where_decisions_are_made(n: int) -> None:
    exact = stats.kstwo.sf(ds(n), n)
    ours = np.array([ks_p_value(d, n) for d in ds(n)])
    where = (exact > 1e-3) & (exact < 0.5)
    assert where.sum() > 10
    relative = np.abs(ours[where] - exact[where]) / exact[where]
    assert relative.max() <= (0.025 if n < 1_000 else 0.014)


@pytest.mark.parametrize("n", SIZES)
def test_a_verdict_changes_only_within_a_hair_of_the_critical_value(n: int) -> None:
    for alpha in (0.05, 0.01):
        critical = float(stats.kstwo.isf(alpha, n))
        for d in ds(n):
            if abs(d - critical) > 0.01 * critical:
                assert (ks_p_value(d, n) < alpha) == (d > critical), (n, alpha, d)


def test_small_sizes_are_exact_and_the_value_never_rises_with_d() -> None:
    for n in (1, 5, EXACT_BELOW - 1):
        assert [ks_p_value(d, n) for d in ds(n)] == [float(p) for p in stats.kstwo.sf(ds(n), n)]
    for n in SIZES:
        values = [ks_p_value(d, n) for d in ds(n)]
        assert all(a >= b for a, b in itertools.pairwise(values))
        assert ks_p_value(0.0, n) == 1.0 and ks_p_value(1.0, n) < 1e-30
