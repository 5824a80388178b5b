"""The retrain step: a model's alerts in, at most one RetrainTrigger out, under its retrain policy.

Per model, Redis keeps the alerts firing now (a firing alert adds its feature,
the resolved one removes it) and the policy's state (recent trigger times and the
alerts behind the last trigger). The decision is
:func:`driftline.detectors.policies.retrain_policy.evaluate`, with ``now`` the
event time of the window that produced the alerts, so a replay decides the same.
The trigger is published (and acknowledged) before the new state is saved: a
crash in between republishes the same ``trigger_id``, which consumers dedupe
(``driftline triggers exec`` does).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import redis.asyncio as aioredis

from driftline.config.events import DriftAlert, RetrainTrigger, TimeWindow
from driftline.config.monitor_spec import RetrainPolicySpec
from driftline.detectors.policies.retrain_policy import FiringAlert, RetrainPolicy, RetrainState, evaluate
from driftline.streams import keys
from driftline.streams.codec import encode

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, bytes], Awaitable[None]]


def policy_of(spec: RetrainPolicySpec) -> RetrainPolicy | None:
    """The policy a spec describes; None when retraining is disabled.

    >>> policy_of(RetrainPolicySpec(max_per_day=1)).max_per_day
    1
    >>> policy_of(RetrainPolicySpec(enabled=False)) is None
    True
    """
    if not spec.enabled:
        return None
    return RetrainPolicy(
        min_critical_features=spec.min_critical_features, on_prediction_drift=spec.on_prediction_drift,
        on_performance=spec.on_performance, min_interval_seconds=spec.min_interval_seconds,
        max_per_day=spec.max_per_day, lookback_seconds=spec.lookback_seconds,
    )


def firing_key(alert: DriftAlert) -> str:
    """Which firing alert a resolved one ends: the same feature, segment and detector.

    >>> from driftline.config.events import TimeWindow
    >>> w = TimeWindow(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
    >>> a = DriftAlert(alert_id="a", model_id="m", feature="amount", segment={"region": "eu"}, detector="psi",
    ...     statistic=0.3, threshold=0.25, severity="critical", state="firing", window=w, reference_version="v1",
    ...     n_reference=10, n_current=10)
    >>> firing_key(a)
    'amount|region=eu|psi'
    """
    segment = ",".join(f"{k}={v}" for k, v in sorted((alert.segment or {}).items()))
    return f"{alert.feature}|{segment}|{alert.detector}"


class RetrainStep:
    """Keeps each model's firing alerts and retrain state in Redis and publishes triggers.

    >>> RetrainStep.__name__
    'RetrainStep'
    """

    def __init__(self, client: aioredis.Redis, publish: Publish, topic: str) -> None:
        self._redis = client
        self._publish = publish
        self._topic = topic

    async def after_alerts(
        self, model_id: str, policy: RetrainPolicy | None, alerts: Sequence[DriftAlert], now: float
    ) -> RetrainTrigger | None:
        """Record these alerts (firing or resolved) and publish a trigger if the policy calls for one."""
        firing_hash = keys.firing_alerts(model_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            for alert in alerts:
                if alert.state == "firing":
                    record = {"alert_id": alert.alert_id, "feature": alert.feature, "severity": alert.severity,
                              "since": alert.window.end.timestamp(), "statistic": alert.statistic}
                    pipe.hset(firing_hash, firing_key(alert), json.dumps(record))
                else:
                    pipe.hdel(firing_hash, firing_key(alert))
            pipe.hvals(firing_hash)
            pipe.get(keys.retrain_state(model_id))
            *_, raw_firing, raw_state = await pipe.execute()
        if policy is None:
            return None
        firing = [FiringAlert(**json.loads(raw)) for raw in raw_firing]
        state = RetrainState.from_bytes(raw_state) if raw_state is not None else RetrainState()
        new_state, decision = evaluate(policy, state, firing, now)
        trigger = None
        if decision is not None:
            trigger = RetrainTrigger(
                trigger_id=decision.trigger_id(model_id),
                model_id=model_id,
                reason=decision.reason,
                alert_ids=list(decision.alert_ids),
                policy=decision.rule,
                training_window=TimeWindow(start=datetime.fromtimestamp(decision.window_start, tz=UTC),
                                           end=datetime.fromtimestamp(decision.window_end, tz=UTC)),
                evidence=decision.evidence,
            )
            await self._publish(self._topic, model_id.encode(), encode(trigger))
            log.info("retrain trigger %s for %s: %s", trigger.trigger_id, model_id, trigger.reason)
        if new_state != state:
            await self._redis.set(keys.retrain_state(model_id), new_state.to_bytes())
        return trigger
