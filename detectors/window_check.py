"""Compare one closed window's histograms with the model's reference, feature by feature.

PSI on the reference's bins, banded (0.1 warning, 0.25 critical), through the
alert policy (hysteresis, cooldown, dedup): firing and resolved alerts. The
configurable window tests and multiple-testing control of the monitor issue
are not wired in yet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from driftline.config.events import DriftAlert, HistogramEvidence, TimeWindow
from driftline.detectors.ids import alert_id
from driftline.detectors.policies.alert_policy import (
    AlertPolicy,
    AlertState,
    Observation,
    Severity,
    Transition,
    step,
)
from driftline.detectors.reference import FeatureReference, ModelReference
from driftline.detectors.stats.psi import PSI_CRITICAL, PSI_WARNING, psi

DETECTOR = "psi"


@dataclass(frozen=True)
class FeatureWindow:
    """A feature's PSI in one window, with both distributions as proportions.

    >>> FeatureWindow('amount', 0.3, 100, 50, (0.5, 0.5), (0.2, 0.8)).psi
    0.3
    """

    feature: str
    psi: float
    n_reference: int
    n_current: int
    reference: tuple[float, ...]
    current: tuple[float, ...]


def compare_window(reference: ModelReference, counts: Mapping[str, Mapping[str, int]]) -> list[FeatureWindow]:
    """Every reference feature with at least one value in the window, compared with the reference."""
    results = (compare_feature(name, feature, counts.get(name, {})) for name, feature in reference.features.items())
    return [r for r in results if r.n_current > 0]


def compare_feature(name: str, reference: FeatureReference, bin_counts: Mapping[str, int]) -> FeatureWindow:
    """PSI of a window's ``{bin index: count}`` (``"null"`` is ignored) against the reference.

    A window without a value of the feature has no PSI (NaN) rather than an error.
    """
    ref = np.asarray(reference.counts, dtype=np.float64)
    cur = np.zeros(reference.n_bins, dtype=np.float64)
    for bin_name, count in bin_counts.items():
        if bin_name.isdigit() and int(bin_name) < reference.n_bins:
            cur[int(bin_name)] = count
    return FeatureWindow(
        feature=name,
        psi=float(psi(ref, cur)) if cur.sum() > 0 else float("nan"),
        n_reference=int(ref.sum()),
        n_current=int(cur.sum()),
        reference=tuple(float(x) for x in ref / max(ref.sum(), 1.0)),
        current=tuple(float(x) for x in cur / max(cur.sum(), 1.0)),
    )


def severity_of(psi_value: float) -> Severity | None:
    """The PSI band: critical at 0.25, warning at 0.1, clean below (and without data)."""
    if not psi_value >= PSI_WARNING:  # NaN (no data) is clean too
        return None
    return "critical" if psi_value >= PSI_CRITICAL else "warning"


def window_alerts(
    reference: ModelReference,
    results: Sequence[FeatureWindow],
    states: Mapping[str, AlertState],
    policy: AlertPolicy,
    *,
    start: datetime,
    end: datetime,
) -> tuple[dict[str, AlertState], list[DriftAlert]]:
    """Run each feature's window through the alert policy: the new states, and the alerts
    (firing or resolved) to publish. Deterministic: a replay of the window gives the same ids.

    >>> import numpy as np
    >>> from datetime import UTC
    >>> ref = ModelReference.build("m", "v1", {"x": np.arange(1000.0)}, n_bins=4)
    >>> shifted = compare_window(ref, {"x": {"3": 500}})
    >>> t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    >>> states, alerts = window_alerts(ref, shifted, {}, AlertPolicy(), start=t0, end=t1)
    >>> [(a.feature, a.state, a.severity) for a in alerts], states["x"].firing
    ([('x', 'firing', 'critical')], True)
    """
    new_states = dict(states)
    alerts = []
    for result in results:
        observation = Observation(severity_of(result.psi), result.n_current, result.psi)
        state, transition = step(policy, states.get(result.feature, AlertState()), observation, end.timestamp())
        new_states[result.feature] = state
        if transition is not None:
            alerts.append(_alert(reference, result, transition, start, end))
    return new_states, alerts


def _alert(
    reference: ModelReference, result: FeatureWindow, transition: Transition, start: datetime, end: datetime
) -> DriftAlert:
    feature = reference.features[result.feature]
    threshold = PSI_CRITICAL if transition.severity == "critical" else PSI_WARNING
    return DriftAlert(
        alert_id=alert_id(
            model_id=reference.model_id,
            feature=result.feature,
            detector=DETECTOR,
            window_start=start,
            window_end=end,
            state=f"{transition.state}:{transition.severity}",
            reference_version=reference.version,
        ),
        model_id=reference.model_id,
        feature=result.feature,
        detector=DETECTOR,
        statistic=result.psi if math.isfinite(result.psi) else 0.0,
        threshold=threshold,
        severity=transition.severity,
        state=transition.state,
        window=TimeWindow(start=start, end=end),
        reference_version=reference.version,
        n_reference=result.n_reference,
        n_current=result.n_current,
        evidence=HistogramEvidence(
            edges=list(feature.edges), reference=list(result.reference), current=list(result.current)
        ),
    )
