"""The p-value of a Kolmogorov-Smirnov ``D``: what both KS tests (binned, and from sketches) report.

Two-sample KS at sizes ``n`` and ``m`` is judged as a one-sample KS at the effective size ``n·m/(n+m)``,
as scipy's ``ks_2samp(method="asymp")`` does. scipy then computes that one-sample distribution exactly
(``kstwo.sf``), at a cost that grows with the size: 0.2 ms at 100, 6 ms at 6,000, 100 ms at 100,000 —
for every numeric feature at every window close, it was a third of a worker's CPU. Past ``EXACT_BELOW``
the asymptotic Kolmogorov distribution with Stephens' small-sample correction (Stephens 1970; Numerical
Recipes' ``probks``) is used instead, at under a microsecond: ``Q((√n + 0.12 + 0.11/√n)·D)``. Against the
exact one, for p between 0.001 and 0.5, its relative error is at most 2.5 % (35 ≤ n), 1.4 % (1,000 ≤ n);
a verdict changes only for a ``D`` within a hair of the critical value (tests/test_detectors/test_kolmogorov.py).
Both are approximations of the two-sample distribution anyway; see docs/decisions/0013-ks-p-value.md.
"""

from __future__ import annotations

import math

from scipy import special, stats

EXACT_BELOW = 35
"""Effective sizes under this get scipy's exact one-sample distribution (cheap there; Stephens' formula is
off by 5 % at 20 and 20 % at 10)."""


def ks_p_value(d: float, effective_n: float) -> float:
    """P(D ≥ ``d``) for KS at this effective size (rounded, at least 1).

    >>> round(ks_p_value(0.05, 1000), 4), round(ks_p_value(0.3, 10), 4)  # scipy's exact: 0.0130, 0.2705
    (0.013, 0.2705)
    >>> ks_p_value(0.0, 5000), ks_p_value(1.0, 5000)
    (1.0, 0.0)
    """
    n = max(round(effective_n), 1)
    if n < EXACT_BELOW:
        return float(stats.kstwo.sf(d, n))
    root = math.sqrt(n)
    return float(min(1.0, special.kolmogorov((root + 0.12 + 0.11 / root) * d)))
