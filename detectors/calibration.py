"""Thresholds from a false-alarm target instead of guessed constants.

A window detector configured with an expected run time between false alarms
(ERT, in windows) needs a per-window false-alarm probability of ``1 / ERT``
(run lengths under no drift are then geometric with mean ERT). The threshold is
the ``1 - 1/ERT`` quantile of the statistic's distribution under no drift,
which we estimate by bootstrap: windows of the configured size resampled from
the reference sample itself, each compared with the reference histogram.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, stats

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


ASYMPTOTIC_MIN_COUNT = 30
"""A window expecting at least this many values in each of the reference's bins is judged on the statistic's
asymptotic no-drift distribution; one expecting fewer (a small window, a rare flag value) on a bootstrap."""
BOOTSTRAP_DRAWS = 20_000
WINDOW_TESTS = ("psi", "jensen_shannon", "hellinger", "wasserstein")


def window_threshold(
    test: str,
    reference_counts: tuple[int, ...],
    *,
    window_size: int,
    ert_windows: float,
    edges: tuple[float, ...] = (),
) -> float:
    """The value of ``test`` that a window of ``window_size`` values *without drift* exceeds once in
    ``ert_windows`` windows: the ``1 - 1/ERT`` quantile of its no-drift distribution, counting both sampling
    errors, the window's and the reference's own (the reference is a sample of the same distribution).

    Where every bin expects ``ASYMPTOTIC_MIN_COUNT`` values, the quantile comes from the asymptotic law: the
    chi-square divergence between two samples of sizes ``n`` and ``m`` on ``k`` bins is ``χ²(k - 1) / n_eff``
    with ``n_eff = 1 / (1/n + 1/m)``, and PSI ≈ χ²-divergence, Hellinger² ≈ JS² · ln 2 ≈ χ²-divergence / 8;
    Wasserstein (``edges`` needed) is the binned CDF difference, a Gaussian bridge, simulated once per reference
    at unit scale and scaled by ``1 / sqrt(n_eff)``. Elsewhere a multinomial bootstrap draws the window from
    a resampled reference, and beyond its resolution the tail is extrapolated (:func:`tail_quantile`).
    Deterministic and cached, the window size rounded to two significant digits: a replay decides the same.

    >>> t = window_threshold("psi", (2000,) * 10, window_size=3000, ert_windows=1000)
    >>> round(t, 4)  # chi2.ppf(0.999, 9) = 27.9 over n_eff = 1 / (1/3000 + 1/20000)
    0.0107
    >>> window_threshold("psi", (2000,) * 10, window_size=3040, ert_windows=1000) == t
    True
    >>> small = window_threshold("psi", (2000,) * 10, window_size=100, ert_windows=1000)  # bootstrapped
    >>> 0.2 < small < 0.5
    True
    """
    if test not in WINDOW_TESTS:
        raise ValueError(f"cannot calibrate {test!r}; calibrated tests: {', '.join(WINDOW_TESTS)}")
    if ert_windows <= 1:
        raise ValueError("ert_windows must be greater than 1")
    if test == "wasserstein" and len(edges) + 1 != len(reference_counts):
        raise ValueError("wasserstein needs the reference's edges (one fewer than its bins)")
    size = int(float(f"{max(window_size, 1):.2g}"))
    return _window_threshold(test, tuple(int(c) for c in reference_counts), tuple(float(e) for e in edges), size,
                             float(ert_windows))


@lru_cache(maxsize=16_384)
def _window_threshold(test: str, counts: tuple[int, ...], edges: tuple[float, ...], n: int, ert: float) -> float:
    ref = np.asarray(counts, dtype=np.float64)
    m = float(ref.sum())
    p = ref / m
    n_eff = 1.0 / (1.0 / n + 1.0 / m)
    level = 1.0 - 1.0 / ert
    held = p[p > 0]
    if held.size < 2:
        return 0.0  # one bin: nothing can move
    if n * float(held.min()) >= ASYMPTOTIC_MIN_COUNT:
        if test == "wasserstein":
            return _unit_wasserstein_quantile(counts, edges, ert) / math.sqrt(n_eff)
        divergence = float(stats.chi2.ppf(level, df=held.size - 1)) / n_eff
        return {"psi": divergence, "hellinger": math.sqrt(divergence / 8),
                "jensen_shannon": math.sqrt(divergence / (8 * math.log(2)))}[test]
    rng = np.random.default_rng(zlib.crc32(repr((test, counts, n, ert)).encode()))
    truth = rng.multinomial(int(m), p, size=BOOTSTRAP_DRAWS) / m  # the distribution the reference was drawn from
    windows = rng.multinomial(n, truth) / n
    values = _row_statistics(test, p, windows) if test != "wasserstein" else _row_wasserstein(p, windows, edges)
    return tail_quantile(values, level, squared=test != "psi")


def tail_quantile(values: np.ndarray, level: float, *, squared: bool = False) -> float:
    """The ``level`` quantile of ``values``: empirical while at least 20 values lie beyond it, else extrapolated
    on the scaled chi-square ``a · χ²(ν)`` through the empirical 99th and ``1 - 20/B`` percentiles (of the
    squared values when ``squared``: distances whose squares are χ²-like).

    >>> rng = np.random.default_rng(1)
    >>> draws = rng.chisquare(9, 20_000) / 1000
    >>> exact = float(stats.chi2.ppf(1 - 1e-5, 9)) / 1000  # 0.039; the 20,000 draws see up to 1 - 1e-3
    >>> abs(tail_quantile(draws, 1 - 1e-5) / exact - 1) < 0.1
    True
    """
    t = np.square(values) if squared else np.asarray(values, dtype=np.float64)
    resolved = 1.0 - 20.0 / t.size
    if level <= resolved:
        out = float(np.quantile(t, level, method="higher"))
    else:
        low, high = (float(np.quantile(t, q, method="higher")) for q in (0.99, resolved))
        out = high if low <= 0 or high <= low else _scaled_chi2_through(low, high, resolved, level)
    return math.sqrt(out) if squared else out


def _scaled_chi2_through(low: float, high: float, resolved: float, level: float) -> float:
    """``a · χ²(ν)``'s ``level`` quantile, ``a`` and ``ν`` set so its 99th and ``resolved`` percentiles are
    ``low`` and ``high`` (the ratio of the two fixes ν; clamped to ν in [0.05, 10,000])."""

    def ratio(log_nu: float) -> float:
        nu = math.exp(log_nu)
        return float(stats.chi2.ppf(resolved, nu) / stats.chi2.ppf(0.99, nu)) - high / low

    lo, hi = math.log(0.05), math.log(10_000.0)
    if ratio(lo) < 0:
        log_nu = lo
    elif ratio(hi) > 0:
        log_nu = hi
    else:
        log_nu = float(optimize.brentq(ratio, lo, hi, xtol=1e-6))
    nu = math.exp(log_nu)
    scale = low / float(stats.chi2.ppf(0.99, nu))
    return scale * float(stats.chi2.ppf(level, nu))


WASSERSTEIN_DRAWS = 50_000


@lru_cache(maxsize=4096)
def _unit_wasserstein_quantile(counts: tuple[int, ...], edges: tuple[float, ...], ert: float) -> float:
    """The ``1 - 1/ERT`` quantile of the binned normalised Wasserstein at ``n_eff = 1``: the bin proportions'
    error is Gaussian with covariance ``diag(p) - p pᵀ`` (drawn as ``√p·g - p·Σ√p·g``)."""
    ref = np.asarray(counts, dtype=np.float64)
    p = ref / ref.sum()
    rng = np.random.default_rng(zlib.crc32(repr((counts, edges, ert)).encode()))
    values = np.empty(WASSERSTEIN_DRAWS)
    chunk = 50_000
    for start in range(0, WASSERSTEIN_DRAWS, chunk):
        u = np.sqrt(p) * rng.standard_normal((chunk, p.size))
        error = u - np.outer(u.sum(axis=1), p)
        values[start:start + chunk] = _row_wasserstein(p, p + error, edges)
    return tail_quantile(values, 1.0 - 1.0 / ert, squared=True)


def _row_wasserstein(p: np.ndarray, q: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """:func:`~driftline.detectors.stats.binned.binned_wasserstein` between ``p`` and every row of ``q``."""
    e = np.asarray(edges, dtype=np.float64)
    if e.size < 2:
        return np.zeros(q.shape[0])
    f_ref, f_cur = np.cumsum(p), np.cumsum(q, axis=1)
    w1 = np.abs(f_ref[1:-1] - f_cur[:, 1:-1]) @ np.diff(e)
    iqr = float(np.interp(0.75, f_ref[:-1], e) - np.interp(0.25, f_ref[:-1], e))
    scale = iqr if iqr > 0 else float(e[-1] - e[0]) or 1.0
    rows: np.ndarray = w1 / scale
    return rows
