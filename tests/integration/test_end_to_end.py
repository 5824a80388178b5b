"""The walking skeleton end to end on real Kafka and Redis, with a real worker process.

Events from the reference distribution, then events where one feature is
shifted for a while: exactly that feature fires once when the drift starts and
resolves once after it ends (the alert policy's hysteresis); a malformed
message lands in the dead-letter topic with its reason; and every valid event
is counted exactly once in Redis.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from driftline.config.events import DeadLetter, DriftAlert
from driftline.config.settings import Settings
from driftline.detectors.reference import ModelReference
from driftline.streams.app.kafka import kafka_options
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.state import RedisState
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import EPOCH, FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess
from driftline.views.status import status_lines

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

WINDOWS, DRIFT_AT, DRIFT_END, PER_WINDOW = 12, 4, 8, 500
MALFORMED = b'{"model_id": "fraud-detector", "features": '


async def produce(settings: Settings, sim: FraudSimulator) -> int:
    producer = AIOKafkaProducer(**kafka_options(settings.kafka), acks="all")
    await producer.start()
    sent = 0
    try:
        for window in range(WINDOWS):
            shift = {"amount": 1.0} if DRIFT_AT <= window < DRIFT_END else None
            futures = [
                await producer.send(settings.topics.predictions, orjson.dumps(e), key=sim.model_id.encode())
                for e in sim.events(window=window, n=PER_WINDOW, shift=shift)
            ]
            if window == 2:
                futures.append(await producer.send(settings.topics.predictions, MALFORMED, key=sim.model_id.encode()))
            await asyncio.gather(*futures)
            sent += PER_WINDOW
    finally:
        await producer.stop()
    return sent


async def read_topic(settings: Settings, topic: str, expect_at_least: int, wait_seconds: float = 30.0) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, **kafka_options(settings.kafka), auto_offset_reset="earliest")
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            values += [m.value for msgs in batch.values() for m in msgs]
            if len(values) >= expect_at_least and not batch:
                break
    finally:
        await consumer.stop()
    return values


async def wait_until(predicate: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


async def test_shifted_feature_alerts_alone_and_malformed_message_is_dead_lettered(
    settings: Settings, tmp_path: Path
) -> None:
    sim = FraudSimulator(model_id=f"fraud-{settings.app_id[-8:]}")
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    await store.put_reference(ModelReference.build(sim.model_id, sim.model_version, sim.reference_sample()))
    worker = WorkerProcess(settings, log_path=tmp_path / "worker.log", window_seconds=60)
    try:
        with worker:
            produced = await produce(settings, sim)

            async def all_closed() -> bool:
                assert worker.alive(), (tmp_path / "worker.log").read_text()[-3000:]
                return await store.closed_window_count(sim.model_id) >= WINDOWS - 1

            await wait_until(all_closed, 120, "the worker to close every finished window")
            first = int(EPOCH.timestamp()) // 60
            windows = [await store.read_bucket(sim.model_id, first + w) for w in range(WINDOWS)]
            counted = sum(w.n_events for w in windows)
            lines = await status_lines(RedisState(store.redis))
            status = [line for line in lines if line.startswith(sim.model_id + " ")]
        assert counted == produced  # every valid event exactly once
        assert len(status) == 20
        assert [line.split()[1] for line in status if "DRIFT" in line] == []  # the drift ended before the last window

        alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in await read_topic(settings, settings.topics.alerts, 1)]
        assert {a.feature for a in alerts} == {"amount"}
        story = [(a.state, a.severity, int((a.window.start.timestamp() - EPOCH.timestamp()) // 60)) for a in alerts]
        # fires on the first drifted window; resolves after 2 clean windows (resolve_after = 2)
        assert story == [("firing", "critical", DRIFT_AT), ("resolved", "critical", DRIFT_END + 1)]
        assert alerts[0].statistic >= alerts[0].threshold and alerts[1].statistic < 0.1
        assert len({a.alert_id for a in alerts}) == len(alerts)

        raw_letters = await read_topic(settings, settings.topics.deadletter, 1)
        letters = [decode(v, DeadLetter, max_bytes=10**6) for v in raw_letters]
        assert len(letters) == 1
        assert letters[0].reason.startswith("not JSON")
        assert base64.b64decode(letters[0].payload_b64) == MALFORMED
        assert letters[0].topic == settings.topics.predictions
    finally:
        await store.close()
