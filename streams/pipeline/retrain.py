"""The retrain step: a model's alerts in, at most one RetrainTrigger out, under its retrain policy.

Per model, the retrain store keeps the alerts firing now (a firing alert adds its feature,
the resolved one removes it) and the policy's state (recent trigger times and the
alerts behind the last trigger). The decision is
:func:`driftline.detectors.policies.retrain_policy.evaluate`, with ``now`` the
event time of the window that produced the alerts, so a replay decides the same.
The triggers are published (and acknowledged) before the firing set and the
policy state are saved, atomically: a crash in between replays the same
alerts onto the old state and republishes the same ``trigger_id``, which
consumers dedupe (``driftline triggers exec`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from driftline.config import VOLUME_FEATURE, DriftAlert, RetrainTrigger, TimeWindow
from driftline.detectors import FiringAlert, RetrainPolicy, RetrainState, TriggerDecision, evaluate
from driftline.streams.pipeline.outputs import Outputs
from driftline.streams.state import RetrainStore


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
    """Keeps each model's firing alerts and retrain state in the store and publishes triggers."""

    def __init__(self, store: RetrainStore, outputs: Outputs) -> None:
        self._store = store
        self._outputs = outputs

    async def silence_since(self, model_id: str) -> float | None:
        """When the model's firing ``silence`` alert began (its window's start), or None when none fires."""
        record = await self._store.load(model_id)
        firing = record.firing.get(f"{VOLUME_FEATURE}||silence")
        return firing.since if firing is not None else None

    async def after_alerts(
        self, model_id: str, policy: RetrainPolicy | None, alerts: Sequence[DriftAlert], now: float
    ) -> list[RetrainTrigger]:
        """Record these alerts (firing or resolved), in order, and publish the triggers the policy calls for.

        The policy is consulted after each alert (at its window's end) and once more at ``now``, so a
        firing alert resolved later in the same batch still had its say, and a rate limit that lapsed
        lets a trigger through even in a batch without alerts.
        """
        record = await self._store.load(model_id)
        firing = dict(record.firing)
        state = before = record.state or RetrainState()
        triggers: list[RetrainTrigger] = []
        for alert, moment in [*((a, a.window.end.timestamp()) for a in alerts), (None, now)]:
            if alert is not None and alert.state == "firing":
                firing[firing_key(alert)] = FiringAlert(alert.alert_id, alert.feature, alert.severity,
                                                        since=alert.window.end.timestamp(), statistic=alert.statistic)
            elif alert is not None:
                firing.pop(firing_key(alert), None)
            if policy is not None:
                state, decision = evaluate(policy, state, list(firing.values()), moment)
                if decision is not None:
                    triggers.append(_trigger(model_id, decision))
        for trigger in triggers:
            await self._outputs.trigger(trigger)
        await self._store.save(model_id, firing, state if state != before else None)
        return triggers


def _trigger(model_id: str, decision: TriggerDecision) -> RetrainTrigger:
    return RetrainTrigger(
        trigger_id=decision.trigger_id(model_id),
        model_id=model_id,
        reason=decision.reason,
        alert_ids=list(decision.alert_ids),
        policy=decision.rule,
        training_window=TimeWindow(start=datetime.fromtimestamp(decision.window_start, tz=UTC),
                                   end=datetime.fromtimestamp(decision.window_end, tz=UTC)),
        evidence=decision.evidence,
    )
