"""Is a window's performance worse than the reference? A one-sided test on the window's labels.

The metric judged is the model's loss per label: the error rate for classifiers (0/1 loss), the mean absolute
error for regression. The test compares the window's mean loss with the reference's, accounting for the
sampling spread of both (the reference is itself a sample: training data, or the first joined labels):

- error rate: the two-proportion z test (pooled), ``z = (p_w - p_r) / sqrt(p (1 - p) (1/n_w + 1/n_r))``;
- MAE: Welch's z on the means, ``z = (m_w - m_r) / sqrt(s_r**2/n_r + s_w**2/n_w)`` with the absolute
  errors' spreads from the sums of squares.

A window *fires* when its one-sided p-value is below ``alpha`` (:func:`alpha_for`: one false alarm per
``ert_windows`` judged windows, each window judged a few times as its labels arrive), and is *within the band*
when the p-value is at least :data:`RESOLVE_P` (no sign of being worse). Between the two, the alert keeps
its state (hysteresis). The band printed with an alert is the metric value at which the window would fire,
at its own n: ``reference + z_alpha * spread``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from scipy.stats import norm

RESOLVE_P = 0.05
LOOKS_PER_WINDOW = 4
"""A window is judged again each time its label count doubles: a handful of looks, so ``alpha`` is split."""

Verdict = Literal["worse", "within", "unclear"]


@dataclass(frozen=True)
class PerformanceJudgement:
    """A window's metric against the reference's, and the verdict.

    >>> PerformanceJudgement("error_rate", 0.2, 0.08, 0.11, 1000, 2000, 1e-30, "worse").verdict
    'worse'
    """

    metric: Literal["error_rate", "mae"]
    value: float
    reference: float
    band: float
    """The value at which this window (at its n) would fire."""
    n: int
    n_reference: int
    p_value: float
    verdict: Verdict


def alpha_for(ert_windows: float) -> float:
    """The per-look false-alarm probability for one false alarm per ``ert_windows`` judged windows.

    >>> alpha_for(1000)
    0.00025
    """
    return 1.0 / (ert_windows * LOOKS_PER_WINDOW)


def judge_performance(reference: dict[str, float], window: dict[str, float], *,
                      alpha: float) -> PerformanceJudgement | None:
    """The verdict on a window's counters against the reference's (:mod:`.performance` counters); None
    when they hold no comparable loss (no labels, or different kinds of model).

    >>> ref = {"n": 2000, "err": 160}
    >>> judge_performance(ref, {"n": 1000, "err": 200}, alpha=0.00025).verdict
    'worse'
    >>> judge_performance(ref, {"n": 1000, "err": 85}, alpha=0.00025).verdict
    'within'
    """
    n_r, n_w = int(reference.get("n", 0)), int(window.get("n", 0))
    band = band_at(reference, n_w, alpha=alpha)
    if band is None:
        return None
    if "err" in reference and "err" in window:
        p_r, p_w = reference["err"] / n_r, window["err"] / n_w
        pooled = (reference["err"] + window["err"]) / (n_r + n_w)
        spread = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / n_w + 1 / n_r))
        return _verdict("error_rate", p_w, p_r, spread, band, n_w, n_r, alpha)
    if "ae" in reference and "ae" in window:
        m_r, m_w = reference["ae"] / n_r, window["ae"] / n_w
        var_r = max(reference.get("se", 0.0) / n_r - m_r * m_r, 0.0)
        var_w = max(window.get("se", 0.0) / n_w - m_w * m_w, 0.0)
        spread = math.sqrt(max(var_r / n_r + var_w / n_w, 1e-24))
        return _verdict("mae", m_w, m_r, spread, band, n_w, n_r, alpha)
    return None


def _verdict(metric: Literal["error_rate", "mae"], value: float, ref: float, spread: float, band: float,
             n: int, n_ref: int, alpha: float) -> PerformanceJudgement:
    p_value = float(norm.sf((value - ref) / spread))
    verdict: Verdict = "worse" if p_value < alpha else "within" if p_value >= RESOLVE_P else "unclear"
    return PerformanceJudgement(metric, value, ref, band, n, n_ref, p_value, verdict)


@dataclass(frozen=True)
class PerformanceState:
    """The performance alert's state: its reference counters, the window judged last and its label count at
    that look, and whether the alert fires (JSON in the store).

    >>> PerformanceState.from_bytes(PerformanceState(firing=True).to_bytes()).firing
    True
    """

    reference: dict[str, float] | None = None
    reference_until: int = -(1 << 62)
    """The last window in the reference: later windows are judged."""
    window: int | None = None
    """The window judged last."""
    looked_n: int = 0
    firing: bool = False
    alpha: float = 1e-4 / LOOKS_PER_WINDOW
    """The per-look false-alarm probability the judge used (the band's width)."""
    reference_version: str = "labels:first"
    """Where the reference came from: a model reference's version (built with labels), or the first joined labels."""
    segments: dict[str, Any] = field(default_factory=dict)
    """Per segment (``key=value``) of a model with segments: that segment's own state (as :meth:`to_dict`)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PerformanceState:
        return cls(**data) if data else cls()

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> PerformanceState:
        return cls.from_dict(json.loads(raw)) if raw else cls()


def band_at(reference: dict[str, float], n: int, *, alpha: float) -> float | None:
    """The band's edge for a window of ``n`` labels: the metric value at which it would fire (error rate or
    MAE, whichever the reference holds); None without a reference.

    >>> round(band_at({"n": 2000, "err": 160}, 1000, alpha=0.00025), 3)
    0.117
    """
    n_r = int(reference.get("n", 0))
    if n_r <= 0 or n <= 0:
        return None
    z_alpha = float(norm.isf(alpha))
    if "err" in reference:
        p_r = reference["err"] / n_r
        return p_r + z_alpha * math.sqrt(max(p_r * (1 - p_r), 1e-12) * (1 / n + 1 / n_r))
    if "ae" in reference:
        m_r = reference["ae"] / n_r
        var_r = max(reference.get("se", 0.0) / n_r - m_r * m_r, 0.0)
        return m_r + z_alpha * math.sqrt(max(var_r / n_r + var_r / n, 1e-24))
    return None
