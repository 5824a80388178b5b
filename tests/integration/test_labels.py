"""Labels joined to their predictions on real Kafka and Redis, in the orders real feedback arrives: labels
running ahead of their predictions (a label sent right after the prediction 2,000 later), and every label
before its prediction. Every label is joined once (none unmatched), and a model that gets worse for a while
fires ``__performance__`` within two windows of the change, keeps it firing while it is worse, and resolves
it after: a binary scorer whose error rate rises from 8 % to 20 %, a regression model whose MAE doubles, a
3-class model sending probability maps whose accuracy drops 15 points. The malformed label is a dead letter,
the stray one waits."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from driftline.config.events import PERFORMANCE_FEATURE, PREDICTION_FEATURE, DeadLetter, DriftAlert, RetrainTrigger
from driftline.config.settings import Settings
from driftline.streams.app.kafka import kafka_options
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.state import RedisState
from driftline.streams.state.labels import RedisLabelStore
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess
from driftline.views.status import status_lines

from ..support.kafka import PRODUCER_DEFAULTS, read_topic
from ..support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

WINDOWS, PER_WINDOW = 14, 1000
RISE, RETURN = 6, 10
"""The error rate is 20 % for the predictions of windows RISE..RETURN-1, 8 % before and after."""
AHEAD = 2000


CLASSES = ("cat", "dog", "eel")
METRIC = {"binary": "error_rate", "regression": "mae", "classes": "error_rate"}


def with_kind(events: list[dict[str, object]], kind: str, rng: np.random.Generator) -> list[dict[str, object]]:
    """The simulator's scoring events as ``kind``'s predictions: scores, numbers around 100, probability maps."""
    if kind == "regression":
        return [{**e, "prediction": float(rng.normal(100, 10))} for e in events]
    if kind == "classes":
        return [{**e, "prediction": dict(zip(CLASSES, (float(p) for p in rng.dirichlet([1, 1, 1])), strict=True))}
                for e in events]
    return events


def labels_for(events: list[dict[str, object]], kind: str, rng: np.random.Generator) -> list[dict[str, object]]:
    """Ground truth a minute late, worse for the predictions of the middle windows: a binary scorer wrong 8 %
    then 20 % of the time, a regression model's errors twice as large, a classifier right 85 % then 70 %."""
    out = []
    for i, event in enumerate(events):
        worse = RISE * PER_WINDOW <= i < RETURN * PER_WINDOW
        prediction = event["prediction"]
        label: object
        if kind == "regression":
            label = float(prediction) + float(rng.normal(0, 4.0 if worse else 2.0))  # type: ignore[arg-type]
        elif kind == "classes":
            top = max(prediction, key=prediction.__getitem__)  # type: ignore[union-attr, arg-type]
            label = top if rng.random() < (0.70 if worse else 0.85) else str(rng.choice([c for c in CLASSES
                                                                                         if c != top]))
        else:
            wrong = rng.random() < (0.20 if worse else 0.08)
            label = int((float(prediction) >= 0.5) != wrong)  # type: ignore[arg-type]
        out.append({"model_id": event["model_id"], "prediction_id": event["prediction_id"], "label": label,
                    "ts": float(event["ts"]) + 60})  # type: ignore[arg-type]
    return out


async def send_in_order(settings: Settings, messages: list[tuple[str, bytes, str]]) -> None:
    """(topic, value, key) in this order, on one producer, acknowledged."""
    producer = AIOKafkaProducer(**kafka_options(settings.kafka), **PRODUCER_DEFAULTS)
    await producer.start()
    try:
        pending = [await producer.send(topic, value, key=key.encode()) for topic, value, key in messages]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def interleaved(settings: Settings, events: list[dict[str, object]], labels: list[dict[str, object]],
                order: str) -> list[tuple[str, bytes, str]]:
    topics = settings.topics
    preds = [(topics.predictions, orjson.dumps(e), str(e["model_id"])) for e in events]
    labs = [(topics.labels, orjson.dumps(x), str(x["model_id"])) for x in labels]
    if order == "before":
        return labs + preds
    out: list[tuple[str, bytes, str]] = []
    for j, prediction in enumerate(preds):
        out.append(prediction)
        if j >= AHEAD:
            out.append(labs[j - AHEAD])
    return out + labs[len(preds) - AHEAD:]


@pytest.mark.parametrize("order", ["ahead", "before"])
@pytest.mark.parametrize("kind", ["binary", "regression", "classes"])
async def test_every_label_joins_and_worse_performance_fires_until_it_returns(
    settings: Settings, tmp_path: Path, kind: str, order: str
) -> None:
    sim = FraudSimulator(model_id=f"labels-{kind}-{order}-{settings.app_id[-8:]}", seed=12)
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    label_store = RedisLabelStore(store.redis)
    reference = sim.reference()
    if kind != "binary":  # its predictions are not the simulator's scores: no prior drift to watch here
        reference = dataclasses.replace(reference, features={k: f for k, f in reference.features.items()
                                                             if k != PREDICTION_FEATURE})
    await store.put_reference(reference)
    rng = np.random.default_rng(0)
    events = with_kind([e for w in range(WINDOWS) for e in sim.events(window=w, n=PER_WINDOW)], kind, rng)
    labels = labels_for(events, kind, rng)
    strays = [(settings.topics.labels, orjson.dumps({"model_id": sim.model_id, "prediction_id": "never-seen",
                                                     "label": 1, "ts": 1.0}), sim.model_id),
              (settings.topics.labels, b'{"model_id": "x", "label": 1}', sim.model_id)]
    try:
        with WorkerProcess(settings, log_path=tmp_path / "worker.log", extra_args=["--join-labels"]) as worker:
            await send_in_order(settings, [*interleaved(settings, events, labels, order), *strays])

            async def joined() -> bool:
                assert worker.alive(), worker.log_tail()
                counts = await label_store.counts(sim.model_id, time.time())
                return counts.joined >= len(labels) and counts.pending >= 1

            await wait_until(joined, 180, "every label to be joined")
            await asyncio.sleep(1.0)  # anything counted twice gets the time to show
            counts = await label_store.counts(sim.model_id, time.time())
            lines = await status_lines(RedisState(store.redis))
            status = [line for line in lines if line.startswith(sim.model_id + " ")]
        assert (counts.joined, counts.unmatched, counts.pending, counts.duplicates, counts.dropped) == \
            (len(labels), 0, 1, 0, 0)  # each once; the stray waits for a prediction that never comes
        if kind == "binary":
            expected_errors = sum(1 for e, x in zip(events, labels, strict=True)
                                  if (float(e["prediction"]) >= 0.5) != bool(x["label"]))  # type: ignore[arg-type]
            assert counts.errors == expected_errors
        (performance_row,) = [line.split() for line in status if PERFORMANCE_FEATURE in line]
        assert performance_row[2] == METRIC[kind]

        alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in await read_topic(settings, settings.topics.alerts, 2)]
        mine = [a for a in alerts if a.model_id == sim.model_id]
        performance = [(a.state, a.detector, window_of(a)) for a in mine if a.feature == PERFORMANCE_FEATURE]
        assert [(state, detector) for state, detector, _ in performance] == [("firing", METRIC[kind]),
                                                                            ("resolved", METRIC[kind])], performance
        assert RISE <= performance[0][2] <= RISE + 1  # within two windows of the rise
        assert RETURN <= performance[1][2] <= RETURN + 1  # firing all along, resolved once the rate is back
        firing = next(a for a in mine if a.state == "firing")
        expected_reference = {"binary": 0.08, "regression": 2.0 * 0.798, "classes": 0.15}[kind]  # E|N(0, 2)| = 1.6
        assert firing.reference_value is not None
        assert abs(firing.reference_value - expected_reference) < 0.1 * expected_reference + 0.02
        assert firing.statistic > firing.threshold > firing.reference_value and firing.n_current >= 200
        assert not [a for a in mine if a.feature != PERFORMANCE_FEATURE]  # no covariate drift was injected

        triggers = [decode(v, RetrainTrigger, max_bytes=10**6)
                    for v in await read_topic(settings, settings.topics.retrain, 1)]
        assert [(t.model_id, t.policy) for t in triggers if t.model_id == sim.model_id] == [(sim.model_id,
                                                                                              "performance")]
        raw_letters = await read_topic(settings, settings.topics.deadletter, 1)
        letters = [decode(v, DeadLetter, max_bytes=10**6) for v in raw_letters]
        assert [d.topic for d in letters][-1:] == [settings.topics.labels] and "prediction_id" in letters[-1].reason
    finally:
        await store.close()


def window_of(alert: DriftAlert) -> int:
    """The simulator's window number of an alert's window."""
    from driftline.streams.testing.simulate import EPOCH

    return int((alert.window.start.timestamp() - EPOCH.timestamp()) // 60)
