"""The retrain step on a real Redis: firing alerts accumulate, a policy decision publishes one trigger,
replays decide the same, the rate limit holds, and the state is saved only after the publish."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from driftline.config.events import DriftAlert, RetrainTrigger, TimeWindow
from driftline.config.settings import RedisSettings, TopicSettings
from driftline.detectors.policies.retrain_policy import RetrainPolicy
from driftline.streams.ingest.decode import decode
from driftline.streams.pipeline.outputs import Outputs
from driftline.streams.pipeline.retrain import RetrainStep
from driftline.streams.state.client import RedisClient, redis_client
from driftline.streams.state.retrain import RedisRetrainStore

TOPICS = TopicSettings(retrain="retrain")

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

T0 = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def alert(model: str, feature: str, state: str = "firing", minute: int = 0) -> DriftAlert:
    start, end = datetime.fromtimestamp(T0 + 60 * minute, tz=UTC), datetime.fromtimestamp(T0 + 60 * minute + 60, tz=UTC)
    return DriftAlert(alert_id=f"{feature}-{state}-{minute}", model_id=model, feature=feature, detector="psi",
                      statistic=0.5, threshold=0.25, severity="critical", state=state,
                      window=TimeWindow(start=start, end=end), reference_version="v1", n_reference=100, n_current=100)


class Recorder:
    def __init__(self, fail_first: int = 0) -> None:
        self.sent: list[RetrainTrigger] = []
        self.fail_first = fail_first

    async def __call__(self, topic: str, key: bytes, value: bytes) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("broker unavailable")
        self.sent.append(decode(value, RetrainTrigger, max_bytes=10**6))


@pytest.fixture
async def client(redis_settings: RedisSettings) -> AsyncIterator[RedisClient]:
    c = redis_client(redis_settings)
    yield c
    await c.aclose()


async def test_two_critical_features_trigger_once_and_a_replay_decides_the_same(client: RedisClient) -> None:
    model, publish = f"m-{uuid.uuid4().hex[:8]}", Recorder()
    step, policy = RetrainStep(RedisRetrainStore(client), Outputs(publish, TOPICS)), RetrainPolicy()
    assert await step.after_alerts(model, policy, [alert(model, "amount")], T0 + 60) == []  # one feature: not yet
    (trigger,) = await step.after_alerts(model, policy, [alert(model, "age", minute=1)], T0 + 120)
    assert trigger.policy == "critical_features>=2"
    assert sorted(trigger.alert_ids) == ["age-firing-1", "amount-firing-0"]
    assert set(trigger.evidence) == {"amount", "age"}
    assert await step.after_alerts(model, policy, [alert(model, "age", minute=1)], T0 + 120) == []  # replayed
    assert [t.trigger_id for t in publish.sent] == [trigger.trigger_id]


async def test_resolved_alerts_stop_counting_and_the_rate_limit_holds(client: RedisClient) -> None:
    model, publish = f"m-{uuid.uuid4().hex[:8]}", Recorder()
    step = RetrainStep(RedisRetrainStore(client), Outputs(publish, TOPICS))
    policy = RetrainPolicy(min_interval_seconds=3600)
    await step.after_alerts(model, policy, [alert(model, "a"), alert(model, "b")], T0 + 60)
    await step.after_alerts(model, policy, [alert(model, "a", "resolved", 2), alert(model, "b", "resolved", 2)],
                            T0 + 180)
    await step.after_alerts(model, policy, [alert(model, "c", minute=3)], T0 + 240)
    assert len(publish.sent) == 1  # a and b resolved: c alone is one feature
    await step.after_alerts(model, policy, [alert(model, "d", minute=4)], T0 + 300)
    assert len(publish.sent) == 1  # c and d would do, but within the hour of the last trigger
    await step.after_alerts(model, policy, [], T0 + 3700)
    assert len(publish.sent) == 2 and sorted(publish.sent[1].alert_ids) == ["c-firing-3", "d-firing-4"]


async def test_state_is_saved_only_after_the_trigger_is_published(client: RedisClient) -> None:
    model, publish = f"m-{uuid.uuid4().hex[:8]}", Recorder(fail_first=1)
    step, policy = RetrainStep(RedisRetrainStore(client), Outputs(publish, TOPICS)), RetrainPolicy()
    alerts = [alert(model, "a"), alert(model, "b")]
    with pytest.raises(ConnectionError):
        await step.after_alerts(model, policy, alerts, T0 + 60)
    (trigger,) = await step.after_alerts(model, policy, alerts, T0 + 60)  # the retry of the same window
    assert [t.trigger_id for t in publish.sent] == [trigger.trigger_id]


async def test_a_disabled_policy_tracks_alerts_but_never_triggers(client: RedisClient) -> None:
    model, publish = f"m-{uuid.uuid4().hex[:8]}", Recorder()
    step = RetrainStep(RedisRetrainStore(client), Outputs(publish, TOPICS))
    assert await step.after_alerts(model, None, [alert(model, "a"), alert(model, "b")], T0 + 60) == []
    assert publish.sent == []


async def test_an_alert_fired_and_resolved_in_one_batch_still_triggers(client: RedisClient) -> None:
    model, publish = f"m-{uuid.uuid4().hex[:8]}", Recorder()
    step, policy = RetrainStep(RedisRetrainStore(client), Outputs(publish, TOPICS)), RetrainPolicy()
    perf = [alert(model, "__performance__", minute=1), alert(model, "__performance__", "resolved", minute=5)]
    (trigger,) = await step.after_alerts(model, policy, perf, T0 + 400)
    assert trigger.policy == "performance" and trigger.alert_ids == ["__performance__-firing-1"]
