"""The typed, immutable result of comparing one window with the reference."""

from __future__ import annotations

from dataclasses import dataclass

from driftline.config import ThresholdRule


@dataclass(frozen=True)
class WindowVerdict:
    """One window test's outcome.

    ``drift`` means the statistic reached ``threshold`` (and, for a gated decision,
    the p-value passed its gate and there were enough samples); ``warning`` means
    it reached the lower ``warning_threshold`` band.

    >>> WindowVerdict('psi', 0.3, 0.25, 5000, 1000, drift=True).drift
    True
    """

    test: str
    statistic: float
    threshold: float
    n_reference: int
    n_current: int
    drift: bool
    warning: bool = False
    p_value: float | None = None
    warning_threshold: float | None = None
    rule: ThresholdRule | None = None
    """What set ``threshold``: ``calibrated``, ``floor``, ``band`` (:mod:`driftline.detectors.thresholds`) or
    ``fixed``; None for a p-value test."""
    warning_rule: ThresholdRule | None = None
    """What set ``warning_threshold``."""
