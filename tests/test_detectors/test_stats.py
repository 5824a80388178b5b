"""Window statistics from sketches equal exact numpy/scipy values, or stay within a stated bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats as sps
from scipy.spatial import distance

from driftline.detectors.sketches import QuantileSketch
from driftline.detectors.sketches.quantile import DEFAULT_ALPHA
from driftline.detectors.stats import (
    chi_square,
    hellinger,
    jensen_shannon,
    ks_statistic,
    ks_test,
    psi,
    psi_test,
    wasserstein,
    wasserstein_test,
)

counts = arrays(np.int64, 6, elements=st.integers(0, 10_000)).filter(lambda a: a.sum() > 0)


@given(counts, counts)
def test_psi_equals_the_formula_on_proportions(ref: np.ndarray, cur: np.ndarray) -> None:
    p = np.maximum(ref / ref.sum(), 1e-4)
    q = np.maximum(cur / cur.sum(), 1e-4)
    assert psi(ref, cur) == pytest.approx(float(np.sum((q - p) * np.log(q / p))), rel=1e-9, abs=1e-12)


@given(counts, counts)
def test_js_and_hellinger_equal_scipy(ref: np.ndarray, cur: np.ndarray) -> None:
    assert jensen_shannon(ref, cur) == pytest.approx(distance.jensenshannon(ref, cur, base=2), abs=1e-7)
    p, q = ref / ref.sum(), cur / cur.sum()
    exact = np.sqrt(0.5) * np.linalg.norm(np.sqrt(p) - np.sqrt(q))
    assert hellinger(ref, cur) == pytest.approx(exact, abs=1e-7)


@given(counts, counts)
def test_chi_square_equals_scipy_contingency(ref: np.ndarray, cur: np.ndarray) -> None:
    table = np.vstack([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    statistic, p_value, dof = chi_square(ref, cur)
    if table.shape[1] < 2:
        assert (statistic, p_value, dof) == (0.0, 1.0, 0)
        return
    expected = sps.chi2_contingency(table, correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-9, abs=1e-9)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)
    assert dof == expected.dof


# Stated bounds of the sketch-based KS and Wasserstein (alpha = 0.005), checked at n = 1e3 .. 1e6:
#   |D_sketch - D_exact| <= 0.01, and <= 0.002 from n = 1e4 on (values sharing a bucket are tied);
#   |W_sketch - W_exact| <= alpha * (mean|x| + mean|y|)  (every value is known to relative error alpha).
@pytest.mark.parametrize("n", [1_000, 10_000, 100_000, 1_000_000])
@pytest.mark.parametrize("shift", [0.0, 0.2, 1.0])
def test_ks_and_wasserstein_from_sketches_stay_within_the_stated_bound(n: int, shift: float) -> None:
    rng = np.random.default_rng(n + int(shift * 10))
    x, y = rng.lognormal(3, 0.5, n), rng.lognormal(3 + shift * 0.5, 0.5, n) - 5
    sx, sy = QuantileSketch().update(x), QuantileSketch().update(y)
    d, _ = ks_statistic(sx, sy)
    assert abs(d - sps.ks_2samp(x, y).statistic) <= (0.01 if n < 10_000 else 0.002)
    w_bound = DEFAULT_ALPHA * (np.abs(x).mean() + np.abs(y).mean())
    assert abs(wasserstein(sx, sy) - sps.wasserstein_distance(x, y)) <= w_bound


def test_ks_p_value_tracks_scipy_asymptotic() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 1, 5000), rng.normal(0.05, 1, 4000)
    verdict = ks_test(QuantileSketch().update(x), QuantileSketch().update(y))
    exact = sps.ks_2samp(x, y, method="asymp")
    assert verdict.p_value == pytest.approx(exact.pvalue, rel=0.1)
    assert (verdict.n_reference, verdict.n_current) == (5000, 4000)


def test_verdict_bands() -> None:
    ref = np.array([250, 250, 250, 250])
    assert not psi_test(ref_obj(ref), ref_obj(ref)).warning
    moderate = psi_test(ref_obj(ref), ref_obj(np.array([120, 230, 270, 380])))
    assert moderate.warning and not moderate.drift
    major = psi_test(ref_obj(ref), ref_obj(np.array([50, 150, 300, 500])))
    assert major.warning and major.drift and major.threshold == 0.25


def test_wasserstein_is_scale_free() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(0, 1, 20_000), rng.normal(0.3, 1, 20_000)
    small = wasserstein_test(QuantileSketch().update(x), QuantileSketch().update(y)).statistic
    large = wasserstein_test(QuantileSketch().update(x * 1000), QuantileSketch().update(y * 1000)).statistic
    assert small == pytest.approx(large, rel=0.02)


class ref_obj:  # a minimal Binned
    def __init__(self, counts: np.ndarray) -> None:
        self.counts = counts
