"""Decisions that hold up at production sample sizes, and multiple-testing control.

At n = 10^5 a KS or chi-square test calls a shift of no practical consequence
significant. The default decision therefore needs three things at once: an
effect size at or above its threshold (PSI, JS or normalised Wasserstein), a
significant p-value (the gate: the effect is not sampling noise), and enough
samples in the window. Across a model's features the p-value gate is corrected
for multiple testing (Benjamini-Hochberg by default, or Bonferroni).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from driftline.detectors.stats.verdict import WindowVerdict

Correction = Literal["benjamini_hochberg", "bonferroni", "none"]


def bonferroni(p_values: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Reject where ``p <= alpha / m``: controls the family-wise error rate.

    >>> bonferroni([0.01, 0.02, 0.5], alpha=0.05)
    [True, False, False]
    """
    m = len(p_values)
    return [p <= alpha / m for p in p_values] if m else []


def benjamini_hochberg(p_values: Sequence[float], q: float = 0.05) -> list[bool]:
    """Benjamini-Hochberg step-up: controls the false discovery rate at ``q``.

    >>> benjamini_hochberg([0.01, 0.02, 0.5], q=0.05)
    [True, True, False]
    """
    m = len(p_values)
    if not m:
        return []
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    passing = p[order] <= q * np.arange(1, m + 1) / m
    k = int(np.max(np.nonzero(passing)[0])) + 1 if passing.any() else 0
    rejected = np.zeros(m, dtype=bool)
    rejected[order[:k]] = True
    return rejected.tolist()


@dataclass(frozen=True)
class FeatureEvidence:
    """One feature's window: an effect-size verdict and, optionally, a p-value verdict (the gate).

    >>> v = WindowVerdict('psi', 0.3, 0.25, 1000, 1000, drift=True)
    >>> FeatureEvidence('amount', v).gate is None
    True
    """

    feature: str
    effect: WindowVerdict
    gate: WindowVerdict | None = None


@dataclass(frozen=True)
class DecisionRule:
    """How effect, gate and sample size combine. ``alpha`` is the family-level gate.

    >>> DecisionRule().correction, DecisionRule().min_samples
    ('benjamini_hochberg', 200)
    """

    alpha: float = 0.05
    correction: Correction = "benjamini_hochberg"
    min_samples: int = 200


def decide(evidence: Sequence[FeatureEvidence], rule: DecisionRule | None = None) -> dict[str, WindowVerdict]:
    """The final verdict per feature: the effect verdict with ``drift``/``warning`` cleared
    unless the window had enough samples and the (corrected) gate passed.

    >>> big = WindowVerdict("psi", 0.4, 0.25, 10_000, 5_000, drift=True, warning=True)
    >>> tiny_p = WindowVerdict("ks", 0.2, 0.05, 10_000, 5_000, drift=True, p_value=1e-9)
    >>> noise = WindowVerdict("ks", 0.01, 0.05, 10_000, 5_000, drift=False, p_value=0.4)
    >>> out = decide([FeatureEvidence("a", big, tiny_p), FeatureEvidence("b", big, noise)])
    >>> out["a"].drift, out["b"].drift
    (True, False)
    """
    rule = rule or DecisionRule()
    gated = [e for e in evidence if e.gate is not None and e.gate.p_value is not None]
    p_values = [e.gate.p_value for e in gated]  # type: ignore[union-attr]
    if rule.correction == "bonferroni":
        passed = bonferroni(p_values, rule.alpha)  # type: ignore[arg-type]
    elif rule.correction == "benjamini_hochberg":
        passed = benjamini_hochberg(p_values, rule.alpha)  # type: ignore[arg-type]
    else:
        passed = [p <= rule.alpha for p in p_values]  # type: ignore[operator]
    gate_ok = {e.feature: ok for e, ok in zip(gated, passed, strict=True)}
    result = {}
    for e in evidence:
        enough = min(e.effect.n_current, e.effect.n_reference) >= rule.min_samples
        allowed = enough and gate_ok.get(e.feature, e.gate is None)
        result[e.feature] = e.effect if allowed else replace(e.effect, drift=False, warning=False)
    return result
