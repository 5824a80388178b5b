"""The bar an effect test's statistic is held against in one window (docs/thresholds.md).

Up to four numbers make it:

- **calibrated**: the value a window of this many values *without drift* exceeds once in ``ert_windows``
  windows (:func:`~driftline.detectors.calibration.window_threshold`): the sampling noise at this window's
  size, so small windows do not alarm on noise;
- **variability**: when the reference's order means something (built ``--time-column`` or ``--ordered``), how
  far its own consecutive stretches of this window's size differ from the whole
  (:mod:`~driftline.detectors.variability`), so a reference that varies by itself (regions, months) does not
  make every window look drifted;
- **floor**: the smallest effect that alerts at all (about a 0.1-sd shift), so huge windows do not alarm on
  differences no one would act on;
- **band**: the effect at which a drift is critical rather than a warning (about a 0.5-sd shift).

A window drifts (a warning) at the largest of the first three and is critical at ``max(that, band)``; the alert
says which of them set the bar it crossed.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftline.config import EFFECT_TESTS, ModelSpec, ThresholdRule, Thresholds
from driftline.detectors.calibration import window_threshold
from driftline.detectors.reference import AnyFeatureReference, CategoricalReference, ModelReference
from driftline.detectors.spec_resolution import monitored_features
from driftline.detectors.stats.verdict import WindowVerdict
from driftline.detectors.variability import variability_bar


@dataclass(frozen=True)
class Bar:
    """One test's thresholds in one window.

    >>> bar = Bar("psi", calibrated=0.016, floor=0.01, band=0.25)
    >>> bar.warning, bar.critical, bar.rule("warning"), bar.rule("critical")
    (0.016, 0.25, 'calibrated', 'band')
    >>> v = bar.verdict(0.011, 20_000, 3000)  # below both bars: each keeps the rule that set it
    >>> (v.threshold, v.rule), (v.warning_threshold, v.warning_rule)
    ((0.25, 'band'), (0.016, 'calibrated'))
    >>> Bar("psi", calibrated=0.001, floor=0.01, band=0.25).rule("warning")  # a huge window: the floor holds
    'floor'
    >>> Bar("psi", calibrated=0.016, floor=0.01, band=0.25, variability=0.09).rule("warning")  # an ordered reference
    'variability'
    """

    test: str
    calibrated: float
    floor: float
    band: float
    variability: float | None = None
    """The reference's own stretches' bar (None: the reference has no order, or too few stretches)."""

    @property
    def warning(self) -> float:
        return max(self.calibrated, self.variability or 0.0, self.floor)

    @property
    def critical(self) -> float:
        return max(self.warning, self.band)

    def rule(self, severity: str | None) -> ThresholdRule:
        if severity == "critical" and self.band >= self.warning:
            return "band"
        if self.variability is not None and self.variability > max(self.calibrated, self.floor):
            return "variability"
        return "calibrated" if self.calibrated >= self.floor else "floor"

    def verdict(self, statistic: float, n_reference: int, n_current: int) -> WindowVerdict:
        """The test's verdict: a warning from :attr:`warning`, a drift (critical) from :attr:`critical`."""
        drift, warning = statistic >= self.critical, statistic >= self.warning
        return WindowVerdict(self.test, statistic, self.critical, n_reference, n_current, drift=drift,
                             warning=warning, warning_threshold=self.warning, rule=self.rule("critical"),
                             warning_rule=self.rule("warning"))


def bar_for(
    test: str, thresholds: Thresholds, reference_counts: tuple[int, ...], *, window_size: int,
    edges: tuple[float, ...] = (), variability: float | None = None,
) -> Bar:
    """The calibrated bar of ``test`` for a window of ``window_size`` values on these reference bins;
    ``variability``: the reference's own stretches' bar at this size, when it has one.

    >>> from driftline.config import Thresholds
    >>> b = bar_for("psi", Thresholds(), (2000,) * 10, window_size=3000)
    >>> round(b.calibrated, 4), b.floor, b.band  # chi2.ppf(1 - 1e-6, 9) = 44.8, over n_eff = 2609
    (0.0172, 0.01, 0.25)
    """
    calibrated = window_threshold(test, reference_counts, window_size=window_size,
                                  ert_windows=thresholds.ert_windows, edges=edges)
    return Bar(test, calibrated, thresholds.floor(test), thresholds.band(test), variability)


def feature_bar(test: str, feature: AnyFeatureReference, thresholds: Thresholds, *, window_size: int,
                chunk_rows: int | None = None) -> Bar:
    """The bar of ``test`` for a window of ``window_size`` values of ``feature``: calibrated on its reference
    bins, and held to its reference's own variability too when the reference is ordered (``chunk_rows``).

    >>> import numpy as np
    >>> from driftline.config import Thresholds
    >>> from driftline.detectors.reference import ModelReference
    >>> regions = np.repeat([0.0, 1.0, 2.0, 3.0], 2500) + np.random.default_rng(0).normal(size=10_000)
    >>> ref = ModelReference.build("m", "v1", {"x": regions}, ordered=True)
    >>> bar = feature_bar("psi", ref.features["x"], Thresholds(), window_size=1000, chunk_rows=ref.chunk_rows)
    >>> bar.rule("warning"), bar.variability > 10 * bar.calibrated
    ('variability', True)
    """
    edges = () if isinstance(feature, CategoricalReference) else tuple(feature.edges)
    variability = None
    if feature.chunks and chunk_rows:
        variability = variability_bar(test, None if isinstance(feature, CategoricalReference) else edges,
                                      feature.chunks, chunk_rows, window_size)
    return bar_for(test, thresholds, tuple(int(x) for x in feature.counts), window_size=window_size, edges=edges,
                   variability=variability)


def reference_bars(reference: ModelReference, spec: ModelSpec, *, window_size: int) -> list[tuple[str, Bar]]:
    """Each monitored feature's effect tests' bars for windows of ``window_size`` values (what ``driftline reference
    show`` prints), in spec order.

    >>> import numpy as np
    >>> from driftline.detectors.spec_resolution import infer_spec
    >>> ref = ModelReference.build("m", "v1", {"x": np.arange(1000.0)}, categorical={"c": ["a", "b"] * 50})
    >>> [(name, bar.test) for name, bar in reference_bars(ref, infer_spec(ref, ModelSpec()), window_size=500)]
    [('x', 'psi'), ('x', 'wasserstein'), ('c', 'psi')]
    """
    return [(name, feature_bar(test, reference.features[name], spec.thresholds, window_size=window_size,
                               chunk_rows=reference.chunk_rows))
            for name, feature in monitored_features(spec, reference).items()
            for test in feature.tests if test in EFFECT_TESTS]
