"""A labelled stream through workers killed with -9 five times: every label joined once, and each
performance window's joined labels and errors exactly what the stream holds (labels running ahead of
their predictions, so both halves of the join are crossed by the kills)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
from aiokafka import AIOKafkaProducer

from driftline.config.settings import Settings
from driftline.streams.app.kafka import kafka_options
from driftline.streams.app.topics import ensure_topics
from driftline.streams.state.labels import RedisLabelStore
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.oracle import AlertLog, read_all
from driftline.streams.testing.simulate import FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.waiting import wait_until

WINDOWS, PER_WINDOW, AHEAD, KILLS = 8, 1000, 500, 5
WINDOW_SECONDS = 60  # the worker's default window: performance windows by the prediction's time


def workload(model_id: str) -> tuple[list[tuple[str, dict[str, object]]], Counter[int], Counter[int]]:
    """(topic role, event) in sending order — the label of prediction j right after prediction j + AHEAD —
    and the expected joined labels and errors per performance window."""
    sim = FraudSimulator(model_id=model_id, seed=21)
    events = [e for w in range(WINDOWS) for e in sim.events(window=w, n=PER_WINDOW)]
    rng = np.random.default_rng(2)
    labels, joined, errors = [], Counter[int](), Counter[int]()
    for i, event in enumerate(events):
        said = float(event["prediction"]) >= 0.5  # type: ignore[arg-type]
        wrong = bool(rng.random() < (0.25 if i >= len(events) // 2 else 0.08))
        labels.append({"model_id": model_id, "prediction_id": event["prediction_id"], "label": int(said != wrong),
                       "ts": float(event["ts"]) + 30})  # type: ignore[arg-type]
        window = int(float(event["ts"]) // WINDOW_SECONDS)  # type: ignore[arg-type]
        joined[window] += 1
        errors[window] += int(wrong)
    order: list[tuple[str, dict[str, object]]] = []
    for j, event in enumerate(events):
        order.append(("predictions", event))
        if j >= AHEAD:
            order.append(("labels", labels[j - AHEAD]))
    order += [("labels", x) for x in labels[len(events) - AHEAD:]]
    return order, joined, errors


async def send_paced(settings: Settings, order: list[tuple[str, dict[str, object]]], seconds: float) -> None:
    producer = AIOKafkaProducer(**kafka_options(settings.kafka), acks="all", linger_ms=20)
    await producer.start()
    try:
        chunk = 400
        pause = seconds / (len(order) / chunk)
        for start in range(0, len(order), chunk):
            sends = [await producer.send(getattr(settings.topics, role), orjson.dumps(event),
                                         key=str(event["model_id"]).encode())
                     for role, event in order[start:start + chunk]]
            await asyncio.gather(*sends)
            await asyncio.sleep(pause)
    finally:
        await producer.stop()


async def test_five_sigkills_during_a_labelled_stream_join_every_label_once(
    settings: Settings, store: RedisWindowStore, tmp_path: Path
) -> None:
    model_id = f"labelled-{settings.app_id[-8:]}"
    await ensure_topics(settings)
    await store.put_reference(FraudSimulator(model_id=model_id, seed=21).reference())
    order, joined, errors = workload(model_id)
    labels = RedisLabelStore(store.redis)
    producing = asyncio.create_task(send_paced(settings, order, seconds=30))
    rng = random.Random(11)
    for kill in range(KILLS):
        worker = WorkerProcess(settings, log_path=tmp_path / f"w{kill}.log", loglevel="warning",
                               extra_args=["--join-labels"])
        worker.start()
        await asyncio.sleep(rng.uniform(3.0, 7.0))  # start-up is ~3 s: before, during or after a batch
        worker.kill()
    await producing
    with WorkerProcess(settings, log_path=tmp_path / "last.log", loglevel="warning",
                       extra_args=["--join-labels"]) as last:
        async def all_joined() -> bool:
            assert last.alive(), last.log_tail()
            return (await labels.counts(model_id, time.time())).joined >= WINDOWS * PER_WINDOW

        await wait_until(all_joined, 180, "every label to be joined")
        await asyncio.sleep(2.0)  # a double count gets the time to show
        counts = await labels.counts(model_id, time.time())
        performance = await labels.performance(model_id, sorted(joined))
    assert (counts.joined, counts.duplicates, counts.pending, counts.unmatched) == (WINDOWS * PER_WINDOW, 0, 0, 0)
    assert counts.errors == sum(errors.values())
    assert {w: (int(p["n"]), int(p["err"])) for w, p in performance.items()} == \
        {w: (joined[w], errors[w]) for w in joined}
    assert all(int(p["predicted"]) == joined[w] for w, p in performance.items())  # every prediction counted once
    alerts = AlertLog.of(await read_all(settings, settings.topics.alerts))
    assert not alerts.conflicting  # a republished alert is the same alert
