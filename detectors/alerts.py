"""Alerts from verdicts: a closed window's features through the alert policy, and an online detector's
transitions. Deterministic ids (:mod:`driftline.detectors.ids`): a replay publishes the same alerts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from driftline.config import (
    CategoricalEvidence,
    DriftAlert,
    HistogramEvidence,
    OnlineDetectorSpec,
    TimeWindow,
    ValuesEvidence,
)
from driftline.detectors.ids import alert_id
from driftline.detectors.online.rules import deciding_value
from driftline.detectors.online.watch import WatchTransition
from driftline.detectors.policies.alert_policy import AlertPolicy, AlertState, Observation, Transition, step
from driftline.detectors.reference import CategoricalReference, ModelReference
from driftline.detectors.window_compare import FeatureWindow, compare_window

__all__ = ["compare_window", "online_alert", "window_alerts"]


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
    >>> from driftline.config.monitor_spec import ModelSpec
    >>> ref = ModelReference.build("m", "v1", {"x": np.arange(1000.0)}, n_bins=4)
    >>> spec = ModelSpec.model_validate({"features": {"x": {"kind": "numeric"}}})
    >>> shifted = compare_window(ref, spec, {"x": {"3": 500}})
    >>> t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    >>> states, alerts = window_alerts(ref, shifted, {}, AlertPolicy(), start=t0, end=t1)
    >>> [(a.feature, a.state, a.severity, a.detector) for a in alerts], states["x"].firing
    ([('x', 'firing', 'critical', 'psi')], True)
    """
    new_states = dict(states)
    alerts = []
    for result in results:
        observation = Observation(result.severity, result.n_current, result.verdict.statistic)
        state, transition = step(policy, states.get(result.key, AlertState()), observation, end.timestamp())
        new_states[result.key] = state
        if transition is not None:
            alerts.append(_alert(reference, result, transition, start, end))
    return new_states, alerts


def _alert(
    reference: ModelReference, result: FeatureWindow, transition: Transition, start: datetime, end: datetime
) -> DriftAlert:
    feature = reference.features.get(result.feature)  # None: the volume, which has no reference profile
    verdict = result.verdict
    evidence: HistogramEvidence | CategoricalEvidence | ValuesEvidence | None
    if result.signal is not None:  # a data-quality signal: its statistic and threshold are shares, no bins
        evidence = ValuesEvidence(values=dict(result.values)) if result.values else None
    elif feature is None:
        evidence = None
    elif isinstance(feature, CategoricalReference):
        evidence = CategoricalEvidence(
            categories=list(feature.labels), reference=list(result.reference), current=list(result.current)
        )
    else:
        evidence = HistogramEvidence(
            edges=list(feature.edges), reference=list(result.reference), current=list(result.current)
        )
    return DriftAlert(
        alert_id=alert_id(
            model_id=reference.model_id,
            feature=result.key,
            detector=verdict.test,
            window_start=start,
            window_end=end,
            state=f"{transition.state}:{transition.severity}",
            reference_version=reference.version,
        ),
        model_id=reference.model_id,
        feature=result.feature,
        segment=dict([result.segment.split("=", 1)]) if result.segment is not None else None,
        detector=verdict.test,
        statistic=verdict.statistic if math.isfinite(verdict.statistic) else 0.0,
        threshold=result.threshold_for(transition.severity),
        rule=result.rule_for(transition.severity),
        p_value=result.p_value,
        severity=transition.severity,
        state=transition.state,
        window=TimeWindow(start=start, end=end),
        reference_version=reference.version,
        n_reference=result.n_reference,
        n_current=result.n_current,
        evidence=evidence,
    )


def online_alert(
    model_id: str, version: str, feature: str, spec: OnlineDetectorSpec, partition: int, transition: WatchTransition
) -> DriftAlert:
    """The alert of an online detector's transition; its id names the partition, so detectors of one
    model on different partitions never share ids, and a replay on the same one gives the same id."""
    start = datetime.fromtimestamp(transition.start, tz=UTC)
    end = datetime.fromtimestamp(transition.end, tz=UTC)
    threshold = deciding_value(spec.detector, spec.params)  # its rule's parameter, not a bound on the statistic
    if threshold is None:
        raise ValueError(f"{spec.detector} is not an online detector")
    return DriftAlert(
        alert_id=alert_id(
            model_id=model_id, feature=f"{feature}@{partition}", detector=spec.detector,
            window_start=start, window_end=end, state=f"{transition.state}:critical", reference_version=version,
        ),
        model_id=model_id,
        feature=feature,
        detector=spec.detector,
        statistic=transition.statistic,
        threshold=threshold,
        severity="critical",
        state=transition.state,
        window=TimeWindow(start=start, end=end),
        reference_version=version,
        n_reference=0,
        n_current=transition.n_values,
    )
