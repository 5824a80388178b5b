"""Thresholds from a false-alarm target instead of guessed constants.

A window detector configured with an expected run time between false alarms
(ERT, in windows) needs a per-window false-alarm probability of ``1 / ERT``
(run lengths under no drift are then geometric with mean ERT). The threshold is
the ``1 - 1/ERT`` quantile of the statistic's distribution under no drift,
which we estimate by bootstrap: windows of the configured size resampled from
the reference sample itself, each compared with the reference histogram.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

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


CALIBRATED_TESTS = ("psi", "jensen_shannon", "hellinger")


def binned_threshold(test: str, reference_counts: tuple[int, ...], *, window_size: int, ert_windows: float) -> float:
    """The ``1 - 1/ERT`` quantile of ``test`` for windows of ``window_size`` values drawn from the
    reference's own bin proportions (multinomial bootstrap): the threshold that a window of that size
    without drift crosses once in ``ert_windows`` windows on average.

    What the worker uses for ``thresholds.ert_windows``: it only has the binned reference, and the
    statistics are computed on those bins. Deterministic (seeded by its inputs) and cached, with the
    window size rounded to two significant digits, so a replayed window gets the same threshold.

    >>> t = binned_threshold("psi", (100,) * 10, window_size=1000, ert_windows=100)
    >>> 0.01 < t < 0.05
    True
    >>> t == binned_threshold("psi", (100,) * 10, window_size=1004, ert_windows=100)
    True
    """
    if test not in CALIBRATED_TESTS:
        raise ValueError(f"cannot calibrate {test!r}; calibrated tests: {', '.join(CALIBRATED_TESTS)}")
    if ert_windows <= 1:
        raise ValueError("ert_windows must be greater than 1")
    size = int(float(f"{max(window_size, 1):.2g}"))
    return _binned_threshold(test, tuple(int(c) for c in reference_counts), size, float(ert_windows))


@lru_cache(maxsize=4096)
def _binned_threshold(test: str, reference_counts: tuple[int, ...], window_size: int, ert_windows: float) -> float:
    ref = np.asarray(reference_counts, dtype=np.float64)
    p = ref / ref.sum()
    seed = zlib.crc32(repr((test, reference_counts, window_size, ert_windows)).encode())
    n_boot = int(min(20 * ert_windows, 50_000))
    draws = np.random.default_rng(seed).multinomial(window_size, p, size=n_boot) / window_size
    values = _row_statistics(test, p, draws)
    return float(np.quantile(values, 1.0 - 1.0 / ert_windows, method="higher"))


def _row_statistics(test: str, p: np.ndarray, q: np.ndarray, epsilon: float = 1e-4) -> np.ndarray:
    """``test`` between proportions ``p`` and every row of ``q``, vectorised (same formulas as
    :mod:`driftline.detectors.stats`)."""
    rows: np.ndarray  # numpy types a reduction over an axis as Any
    if test == "psi":
        pf, qf = np.maximum(p, epsilon), np.maximum(q, epsilon)
        rows = np.sum((qf - pf) * np.log(qf / pf), axis=1)
        return rows
    if test == "hellinger":
        rows = np.sqrt(np.maximum(1.0 - np.sqrt(p * q).sum(axis=1), 0.0))
        return rows
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=1)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=1)
    rows = np.sqrt(np.maximum((kl_p + kl_q) / 2, 0.0))
    return rows
