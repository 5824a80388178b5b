"""Compare one closed window's binned counts with the model's reference, feature by feature
(:mod:`driftline.detectors.alerts` turns the verdicts into alerts).

Per feature the spec lists window tests of two roles:

- **effect sizes** (``psi``, ``jensen_shannon``, ``hellinger``, ``wasserstein``): how far the
  window moved; the most severe of them is the feature's statistic;
- **p-value gates** (``chi_square``, ``ks``): whether the move is more than sampling noise;
  the first one listed gates the feature, corrected across the model's features for
  multiple testing (Benjamini-Hochberg by default) by :func:`~driftline.detectors.gating.decide`.

A feature drifts when its effect reaches the threshold, its gate passes and the
window holds ``min_samples`` values. Chi-square leaves out the bins the reference has no value in (a category
it never saw, pooled in an empty ``__other__``): a steady trickle of one new value would otherwise make it
fire in every window, and those values are the ``unseen`` signal's to judge, with its minimum rise.
KS and Wasserstein run on the reference's bins (:mod:`driftline.detectors.stats.binned`): a window is kept as
counts, not values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from driftline.config import EFFECT_TESTS, Feature, ModelSpec, ThresholdRule, Thresholds, segment_key
from driftline.detectors.gating import DecisionRule, FeatureEvidence, decide
from driftline.detectors.policies.alert_policy import (
    Severity,
)
from driftline.detectors.reference import AnyFeatureReference, CategoricalReference, ModelReference
from driftline.detectors.spec_resolution import monitored_features
from driftline.detectors.stats.binned import binned_ks_test, binned_wasserstein_test
from driftline.detectors.stats.effects import effect_statistic
from driftline.detectors.stats.verdict import WindowVerdict
from driftline.detectors.stats.window_tests import chi_square_test, hellinger_test, js_test, psi_test
from driftline.detectors.thresholds import feature_bar

GATE_TESTS = ("chi_square", "ks")


@dataclass(frozen=True)
class _Counts:
    counts: np.ndarray


@dataclass(frozen=True)
class FeatureWindow:
    """A feature's window: the deciding effect verdict (drift and warning already gated), the gate,
    and both distributions as proportions on the reference's bins.

    >>> v = WindowVerdict('psi', 0.3, 0.25, 100, 50, drift=True, warning=True)
    >>> FeatureWindow('amount', v, None, (0.5, 0.5), (0.2, 0.8)).severity
    'critical'
    """

    feature: str
    verdict: WindowVerdict
    gate: WindowVerdict | None
    reference: tuple[float, ...]
    current: tuple[float, ...]
    segment: str | None = None
    """``key=value`` when this is one segment's window of the feature."""
    signal: str | None = None
    """A data-quality signal of the feature (``missing``, ...: :mod:`~driftline.detectors.quality`), apart from
    its distribution's tests."""
    values: Mapping[str, int] | None = None
    """A signal's named values and their counts in the window (``unseen``: the new categories)."""

    @property
    def key(self) -> str:
        """The feature, or ``feature|key=value`` for a segment, and ``#<signal>`` for a data-quality signal:
        what alert states and statistics are kept under."""
        key = segment_key(self.feature, self.segment)
        return f"{key}#{self.signal}" if self.signal else key

    @property
    def n_current(self) -> int:
        return self.verdict.n_current

    @property
    def n_reference(self) -> int:
        return self.verdict.n_reference

    @property
    def severity(self) -> Severity | None:
        if self.verdict.drift:
            return "critical"
        return "warning" if self.verdict.warning else None

    @property
    def p_value(self) -> float | None:
        return self.gate.p_value if self.gate is not None else self.verdict.p_value

    def threshold_for(self, severity: Severity | None) -> float:
        """The threshold the statistic was held against at this severity."""
        if severity == "warning" and self.verdict.warning_threshold is not None:
            return self.verdict.warning_threshold
        return self.verdict.threshold

    def rule_for(self, severity: Severity | None) -> ThresholdRule | None:
        """What set that threshold (:mod:`~driftline.detectors.thresholds`): calibrated, variability, floor, band or
        fixed."""
        if severity == "warning" and self.verdict.warning_threshold is not None:
            return self.verdict.warning_rule
        return self.verdict.rule


def bin_vector(reference: AnyFeatureReference, bin_counts: Mapping[str, int]) -> np.ndarray:
    """A window's ``{bin index: count}`` as a vector on the reference's bins (``"null"`` left out).

    >>> from driftline.detectors.reference import FeatureReference
    >>> bin_vector(FeatureReference((0.0,), (5, 5)), {"1": 3, "null": 2}).tolist()
    [0.0, 3.0]
    """
    vector = np.zeros(reference.n_bins, dtype=np.float64)
    for bin_name, count in bin_counts.items():
        if bin_name.isdigit() and int(bin_name) < reference.n_bins:
            vector[int(bin_name)] = count
    return vector


def compare_window(
    reference: ModelReference, spec: ModelSpec, counts: Mapping[str, Mapping[str, int]]
) -> list[FeatureWindow]:
    """Every monitored feature with at least one value in the window, tested and decided.

    >>> ref = ModelReference.build("m", "v1", {"x": np.arange(1000.0)}, n_bins=4)
    >>> spec = ModelSpec.model_validate({"features": {"x": {"kind": "numeric"}}})
    >>> [(w.feature, w.verdict.test, w.severity) for w in compare_window(ref, spec, {"x": {"3": 500}})]
    [('x', 'psi', 'critical')]
    """
    evidence: list[FeatureEvidence] = []
    shapes: dict[str, tuple[str, str | None, tuple[float, ...], tuple[float, ...]]] = {}
    for name, feature_spec in monitored_features(spec, reference).items():
        feature_ref = reference.features[name]
        ref = np.asarray(feature_ref.counts, dtype=np.float64)
        for segment in (None, *segments_of(name, counts)):
            key = segment_key(name, segment)
            cur = bin_vector(feature_ref, counts.get(key, {}))
            if cur.sum() <= 0 or ref.sum() <= 0:
                continue
            effect, gate = _run_tests(feature_ref, feature_spec, spec.thresholds, ref, cur, reference.chunk_rows)
            evidence.append(FeatureEvidence(key, effect, gate))
            shapes[key] = (name, segment, _proportions(ref), _proportions(cur))
    thresholds = spec.thresholds
    decided = decide(evidence, DecisionRule(thresholds.p_value, thresholds.correction, thresholds.min_samples))
    results = []
    for e in evidence:
        name, segment, ref_shape, cur_shape = shapes[e.feature]
        results.append(FeatureWindow(name, decided[e.feature], e.gate, ref_shape, cur_shape, segment))
    return results


def segments_of(name: str, counts: Mapping[str, object]) -> list[str]:
    """The segments (``key=value``) this window holds counts of the feature for."""
    prefix = f"{name}|"
    return sorted(k[len(prefix):] for k in counts if k.startswith(prefix))


def _run_tests(
    reference: AnyFeatureReference, feature: Feature, thresholds: Thresholds, ref: np.ndarray, cur: np.ndarray,
    chunk_rows: int | None = None,
) -> tuple[WindowVerdict, WindowVerdict | None]:
    verdicts: dict[str, WindowVerdict] = {}
    for test in feature.tests:
        verdict = _run_test(test, reference, thresholds, ref, cur, chunk_rows)
        if verdict is not None:
            verdicts[test] = verdict
    effects = [verdicts[t] for t in feature.tests if t in EFFECT_TESTS and t in verdicts]
    gate = next((verdicts[t] for t in feature.tests if t in GATE_TESTS and t in verdicts), None)
    if not effects:  # only p-value tests listed: the gate decides alone
        if gate is None:
            return psi_test(_Counts(ref), _Counts(cur)), None
        return (_calibrated_gate(gate, thresholds) if thresholds.mode == "calibrated" else gate), None
    worst = max(effects, key=lambda v: (v.drift, v.warning))  # stable: the first listed wins ties
    return worst, gate


def _run_test(
    test: str, reference: AnyFeatureReference, thresholds: Thresholds, ref: np.ndarray, cur: np.ndarray,
    chunk_rows: int | None = None,
) -> WindowVerdict | None:
    r, c = _Counts(ref), _Counts(cur)
    if test == "chi_square":  # on the bins the reference has values in: a value it never saw is `unseen`'s
        known = ref > 0
        return chi_square_test(_Counts(ref[known]), _Counts(cur[known]), alpha=thresholds.p_value)
    if test in ("ks", "wasserstein") and isinstance(reference, CategoricalReference):
        return None  # ks and wasserstein need an order: numeric features only (the spec enforces it)
    if test == "ks":
        return binned_ks_test(ref, cur, alpha=thresholds.p_value)
    if thresholds.mode == "calibrated":
        bar = feature_bar(test, reference, thresholds, window_size=int(cur.sum()), chunk_rows=chunk_rows)
        return bar.verdict(_effect(test, reference, ref, cur), int(ref.sum()), int(cur.sum()))
    return _fixed(test, reference, thresholds, r, c)


def _calibrated_gate(gate: WindowVerdict, thresholds: Thresholds) -> WindowVerdict:
    """A p-value test that decides alone, at the false-alarm rate the expected run time gives: ``p < 1 / ERT``.

    >>> from driftline.config import Thresholds
    >>> g = WindowVerdict("ks", 0.05, 0.05, 20_000, 3000, drift=True, p_value=1e-4)
    >>> v = _calibrated_gate(g, Thresholds())
    >>> v.drift, v.threshold, v.rule
    (False, 1e-06, 'calibrated')
    """
    alpha = 1.0 / thresholds.ert_windows
    fired = gate.p_value is not None and gate.p_value < alpha
    return replace(gate, threshold=alpha, drift=fired, warning=fired, rule="calibrated", warning_rule="calibrated")


def _effect(test: str, reference: AnyFeatureReference, ref: np.ndarray, cur: np.ndarray) -> float:
    """The effect test's statistic (the same functions as the fixed-threshold tests)."""
    return effect_statistic(test, None if isinstance(reference, CategoricalReference) else reference.edges, ref, cur)


def _fixed(test: str, reference: AnyFeatureReference, thresholds: Thresholds, r: _Counts, c: _Counts
           ) -> WindowVerdict:
    """``mode = "fixed"``: the constant thresholds (PSI with its two bands)."""
    if test == "psi":
        verdict = psi_test(r, c, warning=thresholds.psi_warning, critical=thresholds.psi_critical)
    elif test == "jensen_shannon":
        verdict = js_test(r, c, threshold=thresholds.jensen_shannon)
    elif test == "hellinger":
        verdict = hellinger_test(r, c, threshold=thresholds.hellinger)
    elif test == "wasserstein" and not isinstance(reference, CategoricalReference):
        verdict = binned_wasserstein_test(reference.edges, r.counts, c.counts, threshold=thresholds.wasserstein)
    else:
        raise ValueError(f"unknown window test {test!r}")
    return replace(verdict, rule="fixed", warning_rule="fixed" if verdict.warning_threshold is not None else None)


def _proportions(counts: np.ndarray) -> tuple[float, ...]:
    return tuple(float(x) for x in counts / max(float(counts.sum()), 1.0))
