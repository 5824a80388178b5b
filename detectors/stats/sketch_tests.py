"""Kolmogorov-Smirnov and Wasserstein from two quantile sketches."""

from __future__ import annotations

import numpy as np

from driftline.detectors.sketches.quantile import QuantileSketch
from driftline.detectors.stats.kolmogorov import ks_p_value


def _union_cdfs(reference: QuantileSketch, current: QuantileSketch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if reference.alpha != current.alpha:
        raise ValueError("sketches must share alpha")
    if reference.count == 0 or current.count == 0:
        raise ValueError("both sketches need at least one value")
    keys = np.union1d(reference.keys, current.keys)
    support = QuantileSketch(alpha=reference.alpha, keys=keys, counts=np.ones_like(keys)).values()

    def cdf(s: QuantileSketch) -> np.ndarray:
        counts = np.zeros(keys.size, dtype=np.int64)
        counts[np.searchsorted(keys, s.keys)] = s.counts
        return np.cumsum(counts) / s.count

    return support, cdf(reference), cdf(current)


def ks_statistic(reference: QuantileSketch, current: QuantileSketch) -> tuple[float, float]:
    """Two-sample KS ``D`` (the CDFs compared at every bucket of either sketch) and its
    asymptotic p-value (Kolmogorov distribution at the effective size ``n·m/(n+m)``)."""
    _, f_ref, f_cur = _union_cdfs(reference, current)
    d = float(np.max(np.abs(f_ref - f_cur)))
    n, m = reference.count, current.count
    return d, ks_p_value(d, n * m / (n + m))


def wasserstein(reference: QuantileSketch, current: QuantileSketch) -> float:
    """First Wasserstein distance, ``∫ |F_ref - F_cur| dx`` over the buckets' representative values."""
    support, f_ref, f_cur = _union_cdfs(reference, current)
    return float(np.sum(np.abs(f_ref - f_cur)[:-1] * np.diff(support)))


def interquartile_range(sketch: QuantileSketch) -> float:
    q25, q75 = sketch.quantile([0.25, 0.75])
    return float(q75 - q25)
