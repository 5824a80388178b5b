"""The label processor on a real Redis: replays change nothing, a new instance continues from the
saved detector state, and bad labels are dead-lettered with their reason."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import numpy as np
import orjson
import pytest

from driftline.config.events import PERFORMANCE_FEATURE, DeadLetter, DriftAlert
from driftline.config.monitor_spec import ModelSpec
from driftline.config.settings import RedisSettings, Settings, load_settings
from driftline.streams.ingest.decode import Record, decode
from driftline.streams.pipeline.labels import LabelProcessor
from driftline.streams.state import keys
from driftline.streams.state.client import RedisClient, redis_client
from driftline.streams.state.labels import RedisLabelStore

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

SPEC = ModelSpec(join_labels=True)
N, JUMP = 6000, 3000


class Recorder:
    def __init__(self) -> None:
        self.alerts: list[DriftAlert] = []
        self.letters: list[DeadLetter] = []

    async def __call__(self, topic: str, key: bytes, value: bytes) -> None:
        if "deadletter" in topic:
            self.letters.append(decode(value, DeadLetter, max_bytes=10**6))
        elif "alerts" in topic:
            self.alerts.append(decode(value, DriftAlert, max_bytes=10**6))


@pytest.fixture
async def client(redis_settings: RedisSettings) -> AsyncIterator[RedisClient]:
    c = redis_client(redis_settings)
    yield c
    await c.aclose()


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return load_settings()


async def stored_model(client: RedisClient) -> tuple[str, list[Record]]:
    """A model with N stored class predictions, and label records: right 95%, then 55% from JUMP on."""
    model = f"m-{uuid.uuid4().hex[:8]}"
    await client.hset(keys.predictions(model, 0), mapping={f"p{i}": orjson.dumps("fraud" if i % 2 else "ok")
                                                           for i in range(N)})
    rng = np.random.default_rng(1)
    records = []
    for i in range(N):
        right = rng.random() < (0.95 if i < JUMP else 0.55)
        label = ("fraud" if i % 2 else "ok") if right else ("ok" if i % 2 else "fraud")
        value = orjson.dumps({"model_id": model, "prediction_id": f"p{i}", "label": label, "ts": 100.0 + i / 100})
        records.append(Record(0, i, value))
    return model, records


def processor(client: RedisClient, settings: Settings, publish: Recorder) -> LabelProcessor:
    return LabelProcessor(settings, RedisLabelStore(client), publish, lambda _: SPEC, retry_delays=(0.01,))


async def test_replays_are_no_ops_and_a_new_instance_continues_from_the_saved_state(
    client: RedisClient, settings: Settings
) -> None:
    model, records = await stored_model(client)
    publish = Recorder()
    first = processor(client, settings, publish)
    for start in range(0, N // 2, 1000):
        await first.process(records[start:start + 1000])
    await first.process(records[:1000])  # a redelivery
    second = processor(client, settings, publish)  # a restarted worker
    for start in range(N // 2, N, 1000):
        await second.process(records[start:start + 1000])
    counts = await RedisLabelStore(client).counts(model)
    assert counts["joined"] == N and counts.get("unmatched", 0) == 0
    performance = [a for a in publish.alerts if a.feature == PERFORMANCE_FEATURE]
    assert [a.state for a in performance][:1] == ["firing"]
    assert 100.0 + JUMP / 100 <= performance[0].window.end.timestamp() < 100.0 + (JUMP + 1500) / 100

    again = Recorder()
    await processor(client, settings, again).process(records)  # everything again, from a fresh instance
    assert await RedisLabelStore(client).counts(model) == counts and again.alerts == []


async def test_bad_and_unmatched_labels(client: RedisClient, settings: Settings) -> None:
    model, records = await stored_model(client)
    publish = Recorder()
    bad = [
        Record(0, N, b"{not json"),
        Record(0, N + 1, orjson.dumps({"model_id": model, "prediction_id": "p1", "label": 0.25, "ts": 1.0})),
        Record(0, N + 2, orjson.dumps({"model_id": model, "prediction_id": "gone", "label": "ok", "ts": 1.0})),
    ]
    await processor(client, settings, publish).process([*records[:10], *bad])
    assert [d.offset for d in publish.letters] == [N]  # not JSON
    counts = await RedisLabelStore(client).counts(model)
    # "fraud" vs 0.25 compares as classes: wrong, not an error of the input
    assert counts == {"joined": 11, "unmatched": 1, "errors": counts["errors"]}


async def test_labels_of_a_model_that_keeps_no_predictions_are_dead_lettered(
    client: RedisClient, settings: Settings
) -> None:
    publish = Recorder()
    plain = LabelProcessor(settings, RedisLabelStore(client), publish, lambda _: ModelSpec(), retry_delays=(0.01,))
    await plain.process([Record(0, 0, orjson.dumps({"model_id": "m", "prediction_id": "p", "label": 1, "ts": 1}))])
    assert len(publish.letters) == 1 and "--join-labels" in publish.letters[0].reason
    assert "not joined" in publish.letters[0].reason


async def test_a_label_stamped_far_away_costs_its_own_days_only(client: RedisClient) -> None:
    import time

    model = f"m-{uuid.uuid4().hex[:8]}"
    today = keys.prediction_bucket(time.time())
    await client.hset(keys.predictions(model, today), "p-now", b"0.9")
    await client.hset(keys.predictions(model, 3), "p-1970", b"0.1")
    store = RedisLabelStore(client)
    started = time.perf_counter()
    found = await store.find_predictions(model, [("p-now", time.time()), ("p-1970", 4 * 86_400.0),
                                                 ("p-none", 5e9)], ttl_seconds=7 * 86_400)
    assert found == {"p-now": b"0.9", "p-1970": b"0.1"}
    assert time.perf_counter() - started < 1.0  # not one HMGET per day of the 56 years in between
