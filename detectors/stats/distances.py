"""Distances between two histograms on the same bins (counts in, floats out)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


def proportions(reference_counts: ArrayLike, current_counts: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Both histograms as proportions, after checking they are comparable."""
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    if ref.shape != cur.shape or ref.ndim != 1:
        raise ValueError(f"histograms must be 1-D and on the same bins, got shapes {ref.shape} and {cur.shape}")
    if ref.sum() <= 0 or cur.sum() <= 0:
        raise ValueError("both histograms need at least one count")
    return ref / ref.sum(), cur / cur.sum()


def jensen_shannon(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """Jensen-Shannon distance, base 2: 0 for equal distributions, 1 for disjoint ones.

    >>> round(jensen_shannon([1, 1], [1, 1]), 6), round(jensen_shannon([1, 0], [0, 1]), 6)
    (0.0, 1.0)
    """
    p, q = proportions(reference_counts, current_counts)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum()
    return float(np.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def hellinger(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """Hellinger distance in [0, 1]: ``sqrt(1 - sum(sqrt(p * q)))``.

    >>> round(hellinger([1, 1], [1, 1]), 6), round(hellinger([1, 0], [0, 1]), 6)
    (0.0, 1.0)
    """
    p, q = proportions(reference_counts, current_counts)
    return float(np.sqrt(max(1.0 - np.sqrt(p * q).sum(), 0.0)))


def chi_square(reference_counts: ArrayLike, current_counts: ArrayLike) -> tuple[float, float, int]:
    """Pearson's chi-square test of homogeneity on the 2 x k table: (statistic, p-value, dof).

    Bins empty in both histograms are dropped (they carry no information and would
    divide by zero). Same numbers as ``scipy.stats.chi2_contingency(..., correction=False)``.

    >>> stat, p, dof = chi_square([50, 50], [50, 50])
    >>> round(stat, 6), round(p, 6), dof
    (0.0, 1.0, 1)
    """
    table = np.vstack([np.asarray(reference_counts, dtype=np.float64), np.asarray(current_counts, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return 0.0, 1.0, 0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    dof = table.shape[1] - 1
    return statistic, float(stats.chi2.sf(statistic, dof)), dof
