"""The effect tests' statistics by name, on two histograms of the same bins (a window's and the reference's, or a
stretch of the reference's and the whole's)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from driftline.detectors.stats.binned import binned_wasserstein
from driftline.detectors.stats.distances import hellinger, jensen_shannon
from driftline.detectors.stats.psi import psi


def effect_statistic(test: str, edges: Sequence[float] | None, ref: np.ndarray, cur: np.ndarray) -> float:
    """``test``'s statistic of ``cur`` against ``ref``; ``edges``: a numeric feature's bin edges (Wasserstein
    needs them), None for a categorical one.

    >>> round(effect_statistic("psi", None, np.array([25, 25, 25, 25]), np.array([10, 20, 30, 40])), 4)
    0.2282
    >>> effect_statistic("wasserstein", None, np.array([1, 1]), np.array([1, 1]))
    Traceback (most recent call last):
    ValueError: unknown window test 'wasserstein' for a categorical feature
    """
    if test == "psi":
        return psi(ref, cur)
    if test == "jensen_shannon":
        return jensen_shannon(ref, cur)
    if test == "hellinger":
        return hellinger(ref, cur)
    if test == "wasserstein" and edges is not None:
        return binned_wasserstein(edges, ref, cur)
    raise ValueError(f"unknown window test {test!r}" + (" for a categorical feature" if test == "wasserstein" else ""))
