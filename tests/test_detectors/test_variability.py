"""The reference's own variability bar (detectors/variability.py) on the shapes training data has: a feature
with a trend over time, a flag whose rate differs by region, and the same data shuffled (no order: only noise)."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.detectors.calibration import window_threshold
from driftline.detectors.variability import chunk_counts, variability_threshold

ROWS = 20_000


def _binned(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.searchsorted(edges, values, side="right")  # inner edges: bins 0 .. len(edges)


def _deciles(values: np.ndarray) -> np.ndarray:
    return np.quantile(values, np.linspace(0.1, 0.9, 9))


@pytest.mark.parametrize("window_size", [200, 1_000, 3_000])
def test_a_trend_over_the_training_period_sets_a_bar_above_the_noise_and_shuffled_it_does_not(window_size: int) -> None:
    rng = np.random.default_rng(1)
    trend = rng.normal(0, 1, ROWS) + np.linspace(-0.5, 0.5, ROWS)  # the mean moves 1 sd over the period
    edges = _deciles(trend)
    ordered, rows = chunk_counts(_binned(trend, edges), len(edges) + 1)
    shuffled, _ = chunk_counts(_binned(rng.permutation(trend), edges), len(edges) + 1)
    whole = tuple(int(c) for c in ordered.sum(axis=0))
    noise = {ert: window_threshold("psi", whole, window_size=window_size, ert_windows=ert) for ert in (10, 10_000)}
    assert (len(ordered), rows) == (100, 200)
    assert noise[10] < variability_threshold("psi", None, shuffled, rows, window_size) < noise[10_000]
    if window_size >= 1_000:  # with more events a window, the trend stands out of the noise
        assert variability_threshold("psi", None, ordered, rows, window_size) > noise[10_000]
    assert variability_threshold("wasserstein", tuple(edges), ordered, rows, window_size) > \
        variability_threshold("wasserstein", tuple(edges), shuffled, rows, window_size)


def test_a_flag_whose_rate_differs_by_region() -> None:
    rng = np.random.default_rng(2)
    by_region = np.r_[rng.random(ROWS // 2) < 0.01, rng.random(ROWS // 2) < 0.05].astype(np.int64)  # 1 %, then 5 %
    ordered, rows = chunk_counts(by_region, 2)
    shuffled, _ = chunk_counts(rng.permutation(by_region), 2)
    whole = tuple(int(c) for c in ordered.sum(axis=0))
    noise = window_threshold("psi", whole, window_size=2_000, ert_windows=10_000)
    assert variability_threshold("psi", None, ordered, rows, 2_000) > noise
    assert variability_threshold("psi", None, shuffled, rows, 2_000) < noise


def test_too_few_stretches_of_the_window_size_give_no_bar() -> None:
    counts, rows = chunk_counts(np.zeros(1_000, dtype=np.int64), 3)  # 20 chunks of 50
    assert variability_threshold("psi", None, counts, rows, 300) is not None  # 3 groups of 6 chunks
    assert variability_threshold("psi", None, counts, rows, 400) is None  # 2 groups of 8
    assert chunk_counts(np.zeros(10, dtype=np.int64), 3)[0].shape == (0, 3)  # fewer rows than one chunk
