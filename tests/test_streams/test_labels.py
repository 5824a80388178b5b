"""The label processor on a real Redis: replays change nothing, a new instance continues from the
saved detector state, bad labels are dead-lettered with their reason, and a label joins its prediction
for as long as the model's retention keeps it, whatever the gap between their times."""

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
from driftline.streams.state import ModelBatch, stored_prediction
from driftline.streams.state.client import RedisClient, redis_client
from driftline.streams.state.labels import RedisLabelStore
from driftline.streams.state.windows import RedisWindowStore

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

SPEC = ModelSpec.model_validate({"join_labels": True, "online": [{"detector": "ddm", "stream": "error"}]})
N, JUMP = 6000, 3000
NOW = 2_000_000_000.0
DAY = 86_400


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


async def keep(client: RedisClient, model: str, predictions: dict[str, object], *, ts: float = 100.0,
               now: float = NOW, retention: int = 7 * DAY) -> None:
    """Keep predictions for the label join, as the prediction path does (stored on ``now``'s day)."""
    kept = ModelBatch(model, 0, 0, 0, ts, {0: {"__n__": len(predictions)}})
    kept.predictions = {int(now // DAY): {pid: stored_prediction(p, ts, None) for pid, p in predictions.items()}}
    kept.keep_predictions_seconds, kept.now = retention, now
    kept.predicted = {int(ts // 300): len(predictions)}  # the default window
    await RedisWindowStore(client).apply(kept)


async def stored_model(client: RedisClient) -> tuple[str, list[Record]]:
    """A model with N kept class predictions, and label records: right 95%, then 55% from JUMP on."""
    model = f"m-{uuid.uuid4().hex[:8]}"
    await keep(client, model, {f"p{i}": "fraud" if i % 2 else "ok" for i in range(N)})
    rng = np.random.default_rng(1)
    records = []
    for i in range(N):
        right = rng.random() < (0.95 if i < JUMP else 0.55)
        label = ("fraud" if i % 2 else "ok") if right else ("ok" if i % 2 else "fraud")
        value = orjson.dumps({"model_id": model, "prediction_id": f"p{i}", "label": label, "ts": 100.0 + i / 100})
        records.append(Record(0, i, value))
    return model, records


def processor(client: RedisClient, settings: Settings, publish: Recorder, spec: ModelSpec = SPEC,
              now: float = NOW) -> LabelProcessor:
    return LabelProcessor(settings, RedisLabelStore(client), publish, lambda _: spec, retry_delays=(0.01,),
                          clock=lambda: now)


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
    counts = await RedisLabelStore(client).counts(model, NOW)
    assert (counts.joined, counts.unmatched, counts.pending, counts.duplicates) == (N, 0, 0, 0)
    performance = [a for a in publish.alerts if a.feature == PERFORMANCE_FEATURE]
    assert [(a.detector, a.state) for a in performance][:1] == [("ddm", "firing")]
    assert 100.0 + JUMP / 100 <= performance[0].window.end.timestamp() < 100.0 + (JUMP + 1500) / 100

    again = Recorder()
    await processor(client, settings, again).process(records)  # everything again, from a fresh instance
    assert await RedisLabelStore(client).counts(model, NOW) == counts and again.alerts == []


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
    counts = await RedisLabelStore(client).counts(model, NOW)
    # "fraud" vs 0.25 compares as classes, the second label of p1 is a duplicate, "gone" waits for its prediction
    assert (counts.joined, counts.duplicates, counts.pending, counts.unmatched) == (10, 1, 1, 0)


async def test_labels_of_a_model_that_keeps_no_predictions_are_dead_lettered(
    client: RedisClient, settings: Settings
) -> None:
    publish = Recorder()
    plain = LabelProcessor(settings, RedisLabelStore(client), publish, lambda _: ModelSpec(), retry_delays=(0.01,))
    await plain.process([Record(0, 0, orjson.dumps({"model_id": "m", "prediction_id": "p", "label": 1, "ts": 1}))])
    assert len(publish.letters) == 1 and "--join-labels" in publish.letters[0].reason
    assert "not joined" in publish.letters[0].reason


@pytest.mark.parametrize(("retention_days", "joined"), [(60, 1), (7, 0)])
async def test_a_label_a_month_after_its_prediction_joins_while_the_retention_keeps_it(
    client: RedisClient, settings: Settings, retention_days: int, joined: int
) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    spec = ModelSpec(join_labels=True, label_ttl_seconds=retention_days * DAY)
    await keep(client, model, {"loan-1": 0.2}, ts=NOW, retention=retention_days * DAY)
    month_later = NOW + 30 * DAY
    label = orjson.dumps({"model_id": model, "prediction_id": "loan-1", "label": 1, "ts": month_later})
    await processor(client, settings, Recorder(), spec, now=month_later).process([Record(0, 0, label)])
    counts = await RedisLabelStore(client).counts(model, month_later)
    assert (counts.joined, counts.pending) == (joined, 1 - joined)
    if joined:
        assert counts.lag == {str(2 ** 22): 1}  # 30 days: the 2**22 s (48.5 days) bin
        window = int(NOW // spec.window.size_seconds)
        performance = await RedisLabelStore(client).performance(model, [window])
        assert performance[window]["err"] == 1  # in the prediction's window, not the label's
