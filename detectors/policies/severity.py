"""Severity of a window: from a statistic's bands, or from an online detector's verdicts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from driftline.detectors.online.base import OnlineVerdict
from driftline.detectors.policies.alert_policy import Observation, Severity


@dataclass(frozen=True)
class SeverityBands:
    """Two thresholds on a statistic: at or past ``warning`` warns, at or past ``critical`` is critical.

    ``higher_is_worse=False`` is for statistics where small is bad (p-values).

    Examples
    --------
    >>> psi = SeverityBands(warning=0.1, critical=0.25)
    >>> [psi.classify(x) for x in (0.05, 0.1, 0.3, float("nan"))]
    [None, 'warning', 'critical', None]
    >>> SeverityBands(warning=0.05, critical=0.001, higher_is_worse=False).classify(0.01)
    'warning'
    """

    warning: float
    critical: float
    higher_is_worse: bool = True

    def __post_init__(self) -> None:
        ordered = self.warning < self.critical if self.higher_is_worse else self.warning > self.critical
        if not ordered:
            raise ValueError("the critical band must lie beyond the warning band")

    def classify(self, statistic: float) -> Severity | None:
        """The band of one statistic; NaN (no data) is clean."""
        if math.isnan(statistic):
            return None
        sign = 1.0 if self.higher_is_worse else -1.0
        if sign * statistic >= sign * self.critical:
            return "critical"
        return "warning" if sign * statistic >= sign * self.warning else None


def online_observation(verdicts: Sequence[OnlineVerdict], n_samples: int) -> Observation:
    """One window of an online detector as the alert policy sees it.

    A drift in the window is critical, a warning is a warning, neither is
    clean. ``verdicts`` are what ``update_many`` returned for the window's
    values; ``n_samples`` is how many values the window fed. The statistic is
    that of the most severe (then latest) verdict, 0.0 when there is none.

    >>> from driftline.detectors.online import OnlineVerdict
    >>> online_observation([OnlineVerdict("ddm", 5, drift=False, warning=True, statistic=0.2)], 400)
    Observation(severity='warning', n_samples=400, statistic=0.2)
    >>> online_observation([], 400).severity is None
    True
    """
    drifts = [v for v in verdicts if v.drift]
    warnings = [v for v in verdicts if v.warning]
    worst = drifts or warnings
    severity: Severity | None = "critical" if drifts else "warning" if warnings else None
    statistic = worst[-1].statistic if worst and worst[-1].statistic is not None else 0.0
    return Observation(severity, n_samples, statistic)
