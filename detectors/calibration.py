"""Thresholds from a false-alarm target instead of guessed constants.

A window detector configured with an expected run time between false alarms
(ERT, in windows) needs a per-window false-alarm probability of ``1 / ERT``
(run lengths under no drift are then geometric with mean ERT). The threshold is
the ``1 - 1/ERT`` quantile of the statistic's distribution under no drift,
which we estimate by bootstrap: windows of the configured size resampled from
the reference sample itself, each compared with the reference histogram.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from driftline.detectors.sketches.histogram import NumericHistogram
from driftline.detectors.stats.distances import jensen_shannon
from driftline.detectors.stats.psi import psi

Statistic = Callable[[np.ndarray, np.ndarray], float]
STATISTICS: dict[str, Statistic] = {"psi": psi, "jensen_shannon": jensen_shannon}


@dataclass(frozen=True)
class CalibratedThreshold:
    """The threshold, what it was derived from, and the bootstrap's size.

    >>> CalibratedThreshold('psi', 0.12, 200, 500, 4000).threshold
    0.12
    """

    statistic: str
    threshold: float
    ert_windows: float
    window_size: int
    n_bootstrap: int


def calibrate(
    reference: ArrayLike,
    *,
    window_size: int,
    ert_windows: float,
    rng: np.random.Generator,
    statistic: str = "psi",
    n_bins: int = 10,
    n_bootstrap: int | None = None,
) -> CalibratedThreshold:
    """Bootstrap the no-drift distribution of ``statistic`` and take its ``1 - 1/ERT`` quantile.

    ``n_bootstrap`` defaults to ``20 * ERT`` so the tail quantile rests on about
    20 exceedances.

    >>> rng = np.random.default_rng(0)
    >>> t = calibrate(rng.normal(size=20_000), window_size=500, ert_windows=100, rng=rng)
    >>> t.statistic, round(t.threshold, 3), t.n_bootstrap
    ('psi', 0.046, 2000)
    """
    if ert_windows <= 1:
        raise ValueError("ert_windows must be greater than 1")
    fn = STATISTICS[statistic]
    sample = np.asarray(reference, dtype=np.float64)
    sample = sample[np.isfinite(sample)]
    hist = NumericHistogram.from_reference(sample, n_bins=n_bins)
    n_boot = n_bootstrap or int(20 * ert_windows)
    values = bootstrap_statistics(hist, sample, window_size=window_size, n=n_boot, rng=rng, fn=fn)
    threshold = float(np.quantile(values, 1.0 - 1.0 / ert_windows, method="higher"))
    return CalibratedThreshold(statistic, threshold, ert_windows, window_size, n_boot)


def bootstrap_statistics(
    reference: NumericHistogram,
    sample: np.ndarray,
    *,
    window_size: int,
    n: int,
    rng: np.random.Generator,
    fn: Statistic,
) -> np.ndarray:
    """``n`` statistics of resampled windows against ``reference``; binning is vectorised."""
    bins = np.searchsorted(reference.edges, sample, side="right")
    k = reference.counts.size
    out = np.empty(n)
    chunk = max(1, 2_000_000 // window_size)
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        drawn = bins[rng.integers(0, sample.size, size=(rows, window_size))]
        counts = np.zeros((rows, k), dtype=np.int64)
        np.add.at(counts, (np.repeat(np.arange(rows), window_size), drawn.ravel()), 1)
        out[start : start + rows] = [fn(reference.counts, row) for row in counts]
    return out
