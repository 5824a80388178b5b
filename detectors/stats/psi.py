"""Population Stability Index between two histograms on the same bins."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from driftline.detectors.stats.distances import proportions

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
    ref, cur = proportions(reference_counts, current_counts)
    p, q = np.maximum(ref, epsilon), np.maximum(cur, epsilon)
    return float(np.sum((q - p) * np.log(q / p)))
