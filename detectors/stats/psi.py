"""Population Stability Index between two histograms on the same bins."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

PSI_WARNING = 0.1
PSI_CRITICAL = 0.25


def psi(reference_counts: ArrayLike, current_counts: ArrayLike, *, epsilon: float = 1e-4) -> float:
    """PSI = sum((q - p) * ln(q / p)) over bins, with proportions floored at ``epsilon``.

    The floor keeps an empty bin (common in a short window) from making PSI infinite;
    it is applied to the proportions, so it does not depend on the sample sizes.
    The conventional reading: < 0.1 stable, 0.1-0.25 a moderate shift, >= 0.25 a major one.

    >>> round(psi([50, 50], [50, 50]), 6)
    0.0
    >>> round(psi([25, 25, 25, 25], [10, 20, 30, 40]), 4)
    0.2282
    """
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    if ref.shape != cur.shape or ref.ndim != 1:
        raise ValueError(f"histograms must be 1-D and on the same bins, got shapes {ref.shape} and {cur.shape}")
    if ref.sum() <= 0 or cur.sum() <= 0:
        raise ValueError("both histograms need at least one count")
    p = np.maximum(ref / ref.sum(), epsilon)
    q = np.maximum(cur / cur.sum(), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))
