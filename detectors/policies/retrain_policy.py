"""The retrain policy: firing alerts in, at most one guarded, rate-limited trigger decision out.

Retraining on drift is risky (fresh data may be bad, labels late, the cause
not drift at all), so a trigger needs strong evidence: a critical performance
alert, a critical prediction-drift alert, or critical drift on at least
``min_critical_features`` features. Warnings never trigger. Triggers are at
least ``min_interval_seconds`` apart and at most ``max_per_day`` in any 24 h
(a sliding day). Alerts count only once they have been firing for
``min_firing_seconds``. A trigger needs new evidence: at least one alert that
was not behind the previous trigger (the same rule over the same alerts would
be the same trigger id, which consumers deduplicate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from driftline.config import PERFORMANCE_FEATURE, PREDICTION_FEATURE
from driftline.detectors.ids import trigger_id as make_trigger_id
from driftline.detectors.policies.codec import PolicyStateError, check_fields, dump, load

DAY = 86_400.0


@dataclass(frozen=True)
class RetrainPolicy:
    """Which evidence may trigger a retrain, and how often.

    >>> RetrainPolicy().max_per_day
    2
    """

    min_critical_features: int = 2
    on_prediction_drift: bool = True
    on_performance: bool = True
    min_interval_seconds: float = 6 * 3600.0
    max_per_day: int = 2
    lookback_seconds: float = 7 * DAY
    min_firing_seconds: float = 0.0

    def __post_init__(self) -> None:
        # Same bounds as config's RetrainPolicySpec, so a policy built in code cannot be laxer than a spec.
        if self.min_critical_features < 1 or self.max_per_day < 1:
            raise ValueError("min_critical_features and max_per_day must be >= 1")
        if self.min_interval_seconds < 0 or self.lookback_seconds < 0 or self.min_firing_seconds < 0:
            raise ValueError("min_interval_seconds, lookback_seconds and min_firing_seconds must be >= 0")


@dataclass(frozen=True)
class FiringAlert:
    """An alert that is firing now, as the retrain policy sees it.

    >>> FiringAlert("a1", "amount", "critical", since=0.0, statistic=0.8).feature
    'amount'
    """

    alert_id: str
    feature: str
    severity: str
    since: float
    statistic: float


@dataclass(frozen=True)
class RetrainState:
    """When the recent triggers fired (rate limits) and the alerts behind the last one; plain data.

    Bounded: at most ``max_per_day`` times are kept.

    Examples
    --------
    >>> RetrainState.from_dict(RetrainState((1.0,)).to_dict())
    RetrainState(trigger_times=(1.0,), last_alert_ids=())
    >>> RetrainState.from_bytes(RetrainState((1.0,), ("a",)).to_bytes()).last_alert_ids
    ('a',)
    """

    VERSION = 1

    trigger_times: tuple[float, ...] = ()
    last_alert_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Primitives only (JSON-ready; tuples become lists)."""
        return {"trigger_times": list(self.trigger_times), "last_alert_ids": list(self.last_alert_ids)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RetrainState:
        """The state :meth:`to_dict` made (``last_alert_ids`` may be missing: older states)."""
        check_fields("retrain_state", data, {"trigger_times": (list, tuple), "last_alert_ids": (list, tuple)})
        times, ids = tuple(data.get("trigger_times", ())), tuple(data.get("last_alert_ids", ()))
        if not all(isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t) for t in times):
            raise PolicyStateError("retrain_state: trigger_times must be finite numbers")
        if not all(isinstance(i, str) for i in ids):
            raise PolicyStateError("retrain_state: last_alert_ids must be strings")
        return cls(trigger_times=times, last_alert_ids=ids)

    def to_bytes(self) -> bytes:
        """Versioned JSON bytes."""
        return dump("retrain_state", self.VERSION, self.to_dict())

    @classmethod
    def from_bytes(cls, raw: bytes) -> RetrainState:
        """The state :meth:`to_bytes` made; unknown versions are refused."""
        return cls.from_dict(load("retrain_state", cls.VERSION, raw))


@dataclass(frozen=True)
class TriggerDecision:
    """A decision to retrain: the rule, the alerts behind it, and a suggested training window.

    >>> TriggerDecision("performance", "errors up", ("a",), 0.0, 60.0, {}).rule
    'performance'
    """

    rule: str
    reason: str
    alert_ids: tuple[str, ...]
    window_start: float
    window_end: float
    evidence: dict[str, float]

    def trigger_id(self, model_id: str) -> str:
        """The deterministic id of this trigger for ``model_id`` (:func:`driftline.detectors.ids.trigger_id`)."""
        return make_trigger_id(model_id=model_id, rule=self.rule, alert_ids=self.alert_ids)


def evaluate(
    policy: RetrainPolicy, state: RetrainState, firing: Sequence[FiringAlert], now: float
) -> tuple[RetrainState, TriggerDecision | None]:
    """A trigger decision when a rule holds and the rate limit allows, else None.

    >>> alerts = [FiringAlert("a1", "amount", "critical", 100.0, 0.8), FiringAlert("a2", "age", "critical", 160.0, 0.4)]
    >>> state, decision = evaluate(RetrainPolicy(lookback_seconds=50), RetrainState(), alerts, now=200.0)
    >>> decision.rule, decision.alert_ids, (decision.window_start, decision.window_end)
    ('critical_features>=2', ('a1', 'a2'), (50.0, 200.0))
    >>> evaluate(RetrainPolicy(), state, alerts, now=300.0)[1] is None  # too soon after the last one
    True
    """
    settled = [a for a in firing if a.severity == "critical" and now - a.since >= policy.min_firing_seconds]
    consumed = set(state.last_alert_ids)
    chosen = next((r for r in _rules(policy, settled) if {a.alert_id for a in r[2]} - consumed), None)
    if chosen is None:
        return state, None
    recent = tuple(t for t in state.trigger_times if now - t < DAY)
    too_soon = bool(recent) and now - max(recent) < policy.min_interval_seconds
    if too_soon or len(recent) >= policy.max_per_day:
        return RetrainState(recent, state.last_alert_ids), None
    rule, reason, behind = chosen
    decision = TriggerDecision(
        rule=rule,
        reason=reason,
        alert_ids=tuple(sorted(a.alert_id for a in behind)),
        window_start=min(a.since for a in behind) - policy.lookback_seconds,
        window_end=now,
        evidence={a.feature: a.statistic for a in behind},
    )
    return RetrainState((*recent, now), decision.alert_ids), decision


def _rules(policy: RetrainPolicy, critical: list[FiringAlert]) -> list[tuple[str, str, list[FiringAlert]]]:
    """Every rule that holds, strongest evidence first: (rule, reason, the alerts behind it)."""
    held = []
    performance = [a for a in critical if a.feature == PERFORMANCE_FEATURE]
    if policy.on_performance and performance:
        held.append(("performance", "the model's error rate drifted (labels)", performance))
    prediction = [a for a in critical if a.feature == PREDICTION_FEATURE]
    if policy.on_prediction_drift and prediction:
        held.append(("prediction_drift", "the prediction distribution drifted", prediction))
    features = [a for a in critical if a.feature not in {PERFORMANCE_FEATURE, PREDICTION_FEATURE}]
    n_features = len({a.feature for a in features})
    if n_features >= policy.min_critical_features:
        rule = f"critical_features>={policy.min_critical_features}"
        held.append((rule, f"critical drift on {n_features} features", features))
    return held
