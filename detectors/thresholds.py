"""The bar an effect test's statistic is held against in one window (docs/thresholds.md).

Three numbers make it:

- **calibrated**: the value a window of this many values *without drift* exceeds once in ``ert_windows``
  windows (:func:`~driftline.detectors.calibration.window_threshold`): the sampling noise at this window's
  size, so small windows do not alarm on noise;
- **floor**: the smallest effect that alerts at all (about a 0.1-sd shift), so huge windows do not alarm on
  differences no one would act on;
- **band**: the effect at which a drift is critical rather than a warning (about a 0.5-sd shift).

A window drifts (a warning) at ``max(calibrated, floor)`` and is critical at ``max(that, band)``; the alert
says which of the three set the bar it crossed.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftline.config import ThresholdRule, Thresholds
from driftline.detectors.calibration import window_threshold
from driftline.detectors.stats.verdict import WindowVerdict


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
    """

    test: str
    calibrated: float
    floor: float
    band: float

    @property
    def warning(self) -> float:
        return max(self.calibrated, self.floor)

    @property
    def critical(self) -> float:
        return max(self.warning, self.band)

    def rule(self, severity: str | None) -> ThresholdRule:
        if severity == "critical" and self.band >= self.warning:
            return "band"
        return "calibrated" if self.calibrated >= self.floor else "floor"

    def verdict(self, statistic: float, n_reference: int, n_current: int) -> WindowVerdict:
        """The test's verdict: a warning from :attr:`warning`, a drift (critical) from :attr:`critical`."""
        drift, warning = statistic >= self.critical, statistic >= self.warning
        return WindowVerdict(self.test, statistic, self.critical, n_reference, n_current, drift=drift,
                             warning=warning, warning_threshold=self.warning, rule=self.rule("critical"),
                             warning_rule=self.rule("warning"))


def bar_for(
    test: str, thresholds: Thresholds, reference_counts: tuple[int, ...], *, window_size: int,
    edges: tuple[float, ...] = (),
) -> Bar:
    """The calibrated bar of ``test`` for a window of ``window_size`` values on these reference bins.

    >>> from driftline.config import Thresholds
    >>> b = bar_for("psi", Thresholds(), (2000,) * 10, window_size=3000)
    >>> round(b.calibrated, 4), b.floor, b.band  # chi2.ppf(1 - 1e-6, 9) = 44.8, over n_eff = 2609
    (0.0172, 0.01, 0.25)
    """
    calibrated = window_threshold(test, reference_counts, window_size=window_size,
                                  ert_windows=thresholds.ert_windows, edges=edges)
    return Bar(test, calibrated, thresholds.floor(test), thresholds.band(test))
