"""Kafka and Redis fail under a running worker: stopped, killed, gone for 30 s, restored from an older
append-only file, slowed down. Every scenario ends with every event counted once."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition

from driftline.config.settings import Settings
from driftline.streams.app.kafka import kafka_options
from driftline.streams.stack.local import LocalStack
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.oracle import produce, topic_records
from driftline.streams.testing.worker_process import WorkerProcess

from .conftest import WORKLOAD
from .scenarios import assert_exact, finish_and_judge, log_count


async def test_broker_stopped_and_killed_while_events_flow_and_alerts_publish(
    stack: LocalStack, settings: Settings, store: RedisWindowStore, undisturbed_alert_ids: set[str], tmp_path: Path
) -> None:
    """The drifting windows close ~15 s and ~35 s into the stream: the broker goes down around both."""
    producing = asyncio.create_task(produce(settings, WORKLOAD, seconds=40))
    with WorkerProcess(settings, log_path=tmp_path / "worker.log") as worker:
        await asyncio.sleep(14)
        stack.kafka.stop()  # clean shutdown
        await asyncio.sleep(5)
        stack.kafka.start()
        await asyncio.sleep(12)
        stack.kafka.kill()  # kill -9: the log is recovered on start
        await asyncio.sleep(3)
        stack.kafka.start()
        await producing
        verdict = await finish_and_judge(settings, store, WORKLOAD, [worker], undisturbed_alert_ids, seconds=240)
    assert_exact(verdict)


async def test_redis_gone_for_30_seconds_nothing_is_acked_meanwhile(
    stack: LocalStack, settings: Settings, store: RedisWindowStore, undisturbed_alert_ids: set[str], tmp_path: Path
) -> None:
    producing = asyncio.create_task(produce(settings, WORKLOAD, seconds=20))
    with WorkerProcess(settings, log_path=tmp_path / "worker.log") as worker:
        await asyncio.sleep(8)
        stack.redis.stop()
        await asyncio.sleep(3)  # a batch in flight when Redis went may still commit: it was applied
        committed_early = await _committed(settings)
        await asyncio.sleep(27)
        committed_late = await _committed(settings)
        stack.redis.start()  # the same append-only file: everything acknowledged is there
        await producing
        verdict = await finish_and_judge(settings, store, WORKLOAD, [worker], undisturbed_alert_ids)
    assert committed_late == committed_early, "offsets were committed while Redis was down"
    assert sum(committed_late.values()) < WORKLOAD.events  # the outage did hold work back
    assert "process batch failed" in worker.log_tail(50_000_000)  # it retried, and said so
    assert_exact(verdict)


async def test_redis_restored_from_an_older_append_only_file_is_caught_up_by_rereading(
    stack: LocalStack, settings: Settings, store: RedisWindowStore, undisturbed_alert_ids: set[str], tmp_path: Path
) -> None:
    """Redis comes back with the state of ~10 s earlier, behind Kafka's committed offsets, while the worker
    runs: the worker sees Redis' progress behind its own position and re-reads from there."""
    producing = asyncio.create_task(produce(settings, WORKLOAD, seconds=40))
    snapshot = tmp_path / "older-redis"
    with WorkerProcess(settings, log_path=tmp_path / "worker.log") as worker:
        await asyncio.sleep(10)
        stack.redis.stop()  # flushes the append-only file; copy it as it is now
        shutil.copytree(stack.redis.workdir / "appendonlydir", snapshot)
        stack.redis.start()
        await asyncio.sleep(10)
        stack.redis.kill()
        shutil.rmtree(stack.redis.workdir / "appendonlydir")
        shutil.copytree(snapshot, stack.redis.workdir / "appendonlydir")
        stack.redis.start()
        await producing
        verdict = await finish_and_judge(settings, store, WORKLOAD, [worker], undisturbed_alert_ids)
        assert log_count(worker, "Redis is behind this consumer") >= 1, worker.log_tail()
    assert_exact(verdict)


async def test_backpressure_lag_grows_memory_stays_bounded_nothing_lost(
    stack: LocalStack, settings: Settings, store: RedisWindowStore, undisturbed_alert_ids: set[str], tmp_path: Path
) -> None:
    """The producer sends as fast as it can while Redis takes writes a tenth of the time."""
    pauser = aioredis.Redis.from_url(settings.redis.url.get_secret_value())
    slowing = True

    async def slow_redis() -> None:
        while slowing:
            await pauser.execute_command("CLIENT", "PAUSE", "450", "WRITE")
            await asyncio.sleep(0.5)

    rss, lags = [], []
    with WorkerProcess(settings, log_path=tmp_path / "worker.log") as worker:
        slower = asyncio.create_task(slow_redis())
        producing = asyncio.create_task(produce(settings, WORKLOAD))
        began = time.monotonic()
        while time.monotonic() - began < 30:
            rss.append(worker.rss_mb())
            # the backlog: produced (the topic's end) minus processed (Redis' progress)
            lags.append(await topic_records(settings, settings.topics.predictions)
                        - await _progress_total(store, settings))
            await asyncio.sleep(1)
        slowing = False
        await slower
        await pauser.execute_command("CLIENT", "UNPAUSE")
        await pauser.aclose()
        await producing
        verdict = await finish_and_judge(settings, store, WORKLOAD, [worker], undisturbed_alert_ids)
        rss.append(worker.rss_mb())
    assert await topic_records(settings, settings.topics.predictions) == WORKLOAD.events
    assert max(lags) > WORKLOAD.events // 4, lags  # the worker fell behind the producer...
    assert max(rss) < 400, rss  # ...holding a bounded amount in memory
    assert_exact(verdict)


async def _progress_total(store: RedisWindowStore, settings: Settings) -> int:
    progress = await store.redis.hgetall(f"dl:{{progress:{settings.app_id}.predictions}}")
    return sum(int(v) for v in progress.values())


async def _committed(settings: Settings) -> dict[int, int]:
    """The prediction group's committed offsets, read without joining the group."""
    topic = settings.topics.predictions
    consumer = AIOKafkaConsumer(**kafka_options(settings.kafka), group_id=f"{settings.app_id}.predictions",
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(4)]
        return {tp.partition: (await consumer.committed(tp)) or 0 for tp in partitions}
    finally:
        await consumer.stop()
