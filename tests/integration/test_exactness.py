"""Exactly-once state under at-least-once delivery: Redis counts equal the valid events produced,
after SIGKILLs of the worker mid-stream and with two workers sharing the consumer group."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from driftline.config.settings import Settings
from driftline.streams.app.kafka import kafka_options
from driftline.streams.app.topics import ensure_topics
from driftline.streams.state import keys
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import EPOCH, FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

WINDOWS, PER_WINDOW, MODELS = 12, 1500, 4


async def setup(settings: Settings, prefix: str) -> tuple[list[FraudSimulator], RedisWindowStore]:
    """Several models: keyed by model id (as DESIGN.md keys predictions), they land on different
    partitions, so two workers both have work and a kill hits models mid-window."""
    sims = [FraudSimulator(model_id=f"{prefix}-{i}", seed=i) for i in range(MODELS)]
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    for sim in sims:
        await store.put_reference(sim.reference())  # 20 numeric, 3 categorical features and the score
    return sims, store


async def produce_all(settings: Settings, sims: list[FraudSimulator]) -> int:
    producer = AIOKafkaProducer(**kafka_options(settings.kafka), acks="all", linger_ms=20)
    await producer.start()
    try:
        for window in range(WINDOWS):
            futures = [
                await producer.send(settings.topics.predictions, orjson.dumps(e), key=sim.model_id.encode())
                for sim in sims
                for e in sim.events(window=window, n=PER_WINDOW)
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return WINDOWS * PER_WINDOW * len(sims)


async def counted(store: RedisWindowStore, sims: list[FraudSimulator]) -> tuple[int, dict[str, int]]:
    """Events counted over all models and windows, and per feature the values counted (bins + nulls)."""
    first = int(EPOCH.timestamp()) // 60
    total, per_feature = 0, {}
    for sim in sims:
        for w in range(first, first + WINDOWS):
            window = await store.read_bucket(sim.model_id, w)
            total += window.n_events
            for feature, bins in window.features.items():
                per_feature[feature] = per_feature.get(feature, 0) + sum(bins.values())
    return total, per_feature


async def kept_predictions(store: RedisWindowStore, sims: list[FraudSimulator]) -> int:
    day = keys.prediction_bucket(EPOCH.timestamp())
    return sum([await store.redis.hlen(keys.predictions(sim.model_id, day)) for sim in sims])


async def late(store: RedisWindowStore, sims: list[FraudSimulator]) -> int:
    return sum([await store.late_count(sim.model_id) for sim in sims])


async def wait_counted(
    store: RedisWindowStore, sims: list[FraudSimulator], n: int, seconds: float, workers: list[WorkerProcess]
) -> int:
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline:
        total, _ = await counted(store, sims)
        if total >= n:
            await asyncio.sleep(2.0)  # anything more would be a double count: give it time to show
            return (await counted(store, sims))[0]
        for w in workers:
            assert w.alive(), w.log_tail()
        await asyncio.sleep(0.3)
    return total


async def test_sigkill_mid_stream_then_restart_counts_every_event_once(settings: Settings, tmp_path: Path) -> None:
    sims, store = await setup(settings, f"kill-{settings.app_id[-8:]}")
    try:
        produced = await produce_all(settings, sims)
        worker = WorkerProcess(settings, log_path=tmp_path / "worker.log", loglevel="warning",
                               extra_args=["--join-labels"])
        kills = 0
        for _ in range(3):
            worker.start()
            before = (await counted(store, sims))[0]
            deadline = time.monotonic() + 60
            while (await counted(store, sims))[0] <= before and time.monotonic() < deadline:  # noqa: ASYNC110 — polling Redis
                await asyncio.sleep(0.05)  # kill as soon as it has applied something: mid-stream
            worker.kill()
            kills += 1
        assert (await counted(store, sims))[0] < produced, "the stream finished before the kills"
        worker.start()
        total = await wait_counted(store, sims, produced, 120, [worker])
        worker.stop()
        assert (kills, total, await late(store, sims)) == (3, produced, 0)
        _, per_feature = await counted(store, sims)
        assert per_feature == {name: produced for name in per_feature} and len(per_feature) == 24
        assert await kept_predictions(store, sims) == produced  # each kept once for the label join
    finally:
        await store.close()


async def test_two_workers_in_one_group_count_every_event_once(settings: Settings, tmp_path: Path) -> None:
    sims, store = await setup(settings, f"two-{settings.app_id[-8:]}")
    try:
        with WorkerProcess(settings, log_path=tmp_path / "w1.log", loglevel="info") as w1, \
                WorkerProcess(settings, log_path=tmp_path / "w2.log", loglevel="info") as w2:
            produced = await produce_all(settings, sims)
            total = await wait_counted(store, sims, produced, 120, [w1, w2])
        assert (total, await late(store, sims)) == (produced, 0)
        # both workers had partitions (the group spread the work)
        assert "assigned [(" in w1.log_tail(200_000) and "assigned [(" in w2.log_tail(200_000)
    finally:
        await store.close()
