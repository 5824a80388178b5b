"""Workers killed (-9), stopped (TERM), joining, leaving and replaying: every event counted once, the
alerts of an undisturbed run, no alert id with two contents."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from driftline.config.settings import Settings
from driftline.streams.app.kafka import kafka_options
from driftline.streams.state import keys
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.oracle import produce
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.waiting import wait_until
from .conftest import WORKLOAD
from .scenarios import assert_exact, finish_and_judge, log_count

HELD = "fault point: Redis written, holding the offset commit"
KILLS = 20


async def test_sigkill_twenty_times_mid_batch_and_between_redis_and_commit(
    settings: Settings, store: RedisWindowStore, undisturbed_alert_ids: set[str], tmp_path: Path
) -> None:
    """Odd kills land at a random moment of a batch; even ones exactly after the Redis writes and
    before the offset commit (the worker holds there when told to)."""
    producing = asyncio.create_task(produce(settings, WORKLOAD, seconds=60))
    rng = random.Random(5)
    held = settings.model_copy(update={"fault_hold_commit_seconds": 1.0})
    at_commit = 0
    for kill in range(KILLS):
        holding = kill % 2 == 0
        worker = WorkerProcess(held if holding else settings, log_path=tmp_path / f"w{kill}.log", loglevel="warning")
        worker.start()
        if holding:
            await wait_until(lambda w=worker: _has(w, HELD), 60, "the worker to reach the commit", every=0.1)
            at_commit += 1
        else:
            await asyncio.sleep(rng.uniform(2.0, 6.0))  # start-up is ~3 s: before, during or after a batch
        worker.kill()
    await producing
    with WorkerProcess(settings, log_path=tmp_path / "last.log", loglevel="warning") as last:
        verdict = await finish_and_judge(settings, store, WORKLOAD, [last], undisturbed_alert_ids)
    assert at_commit == KILLS // 2
    assert_exact(verdict)


async def _has(worker: WorkerProcess, text: str) -> bool:
    assert worker.alive(), worker.log_tail()
    return log_count(worker, text) > 0


async def test_sigterm_mid_stream_stops_cleanly_and_loses_nothing(
    settings: Settings, store: RedisWindowStore, undisturbed_alert_ids: set[str], tmp_path: Path
) -> None:
    producing = asyncio.create_task(produce(settings, WORKLOAD, seconds=20))
    for stop in range(3):
        worker = WorkerProcess(settings, log_path=tmp_path / f"w{stop}.log", loglevel="info")
        worker.start()
        await asyncio.sleep(6.0)
        worker.stop(grace_seconds=30)  # SIGTERM: the batch in flight finishes and commits, then it exits
        assert "Traceback" not in worker.log_tail(10_000_000), worker.log_tail()
    await producing
    with WorkerProcess(settings, log_path=tmp_path / "last.log") as last:
        verdict = await finish_and_judge(settings, store, WORKLOAD, [last], undisturbed_alert_ids)
    assert_exact(verdict)


async def test_workers_join_die_and_roll(
    settings: Settings, store: RedisWindowStore, undisturbed_alert_ids: set[str], tmp_path: Path
) -> None:
    """One worker, a second joins mid-stream, the first is killed, then every worker is replaced in turn."""
    producing = asyncio.create_task(produce(settings, WORKLOAD, seconds=45))
    first = WorkerProcess(settings, log_path=tmp_path / "first.log")
    first.start()
    await asyncio.sleep(8)
    second = WorkerProcess(settings, log_path=tmp_path / "second.log")
    second.start()
    await asyncio.sleep(8)
    first.kill()
    third = WorkerProcess(settings, log_path=tmp_path / "third.log")
    third.start()
    await asyncio.sleep(8)
    live = [second, third]
    for i in range(2):  # rolling restart: start a replacement, then stop the oldest
        replacement = WorkerProcess(settings, log_path=tmp_path / f"roll{i}.log")
        replacement.start()
        await asyncio.sleep(6)
        live.pop(0).stop(grace_seconds=30)
        live.append(replacement)
    await producing
    try:
        verdict = await finish_and_judge(settings, store, WORKLOAD, live, undisturbed_alert_ids)
    finally:
        for w in live:
            w.stop()
    assert "assigned [(" in second.log_tail(10_000_000)  # the joiner did get partitions
    assert_exact(verdict)


async def test_replaying_applied_offsets_changes_nothing(
    settings: Settings, store: RedisWindowStore, undisturbed_alert_ids: set[str], tmp_path: Path
) -> None:
    """The group reset to the earliest offsets, first with Redis' progress kept (the worker skips ahead to
    it), then with the progress gone too (every record is read again and the watermarks refuse it)."""
    await produce(settings, WORKLOAD)
    with WorkerProcess(settings, log_path=tmp_path / "first.log") as first:
        verdict = await finish_and_judge(settings, store, WORKLOAD, [first], undisturbed_alert_ids)
    assert_exact(verdict)
    before = await _snapshot(store)
    group = f"{settings.app_id}.predictions"
    for forget_progress in (False, True):
        await _reset_to_earliest(settings, group)
        if forget_progress:
            await store.redis.delete(keys.partition_progress(group))
        with WorkerProcess(settings, log_path=tmp_path / f"replay-{forget_progress}.log") as replay:
            if forget_progress:
                await wait_until(lambda w=replay: _replayed(store, group, w), 90, "the replay to reach the end",
                                 every=0.1)
            else:
                await asyncio.sleep(10)
            verdict = await finish_and_judge(settings, store, WORKLOAD, [replay], undisturbed_alert_ids)
        assert_exact(verdict)
        assert await _snapshot(store) == before
        assert verdict.repeated_alerts == 0  # closed windows are not evaluated again


async def _replayed(store: RedisWindowStore, group: str, worker: WorkerProcess) -> bool:
    assert worker.alive(), worker.log_tail()
    progress = await store.redis.hgetall(keys.partition_progress(group))
    return sum(int(v) for v in progress.values()) >= WORKLOAD.events


async def _snapshot(store: RedisWindowStore) -> dict[bytes, object]:
    """Every key of the workload's models with its content (hashes, sets, strings)."""
    state: dict[bytes, object] = {}
    for sim in WORKLOAD.sims:
        async for key in store.redis.scan_iter(match=f"dl:{{{sim.model_id}}}:*"):
            kind = (await store.redis.type(key)).decode()
            if kind == "hash":
                state[key] = await store.redis.hgetall(key)
            elif kind == "set":
                state[key] = await store.redis.smembers(key)
            elif kind == "string":
                state[key] = await store.redis.get(key)
            else:
                state[key] = kind
    return state


async def _reset_to_earliest(settings: Settings, group: str) -> None:
    """What ``kafka-consumer-groups --reset-offsets --to-earliest`` does: commit each partition's start."""
    topic = settings.topics.predictions
    probe = AIOKafkaConsumer(topic, **kafka_options(settings.kafka), enable_auto_commit=False)
    await probe.start()
    partitions = [TopicPartition(topic, p) for p in sorted(probe.partitions_for_topic(topic) or ())]
    starts = await probe.beginning_offsets(partitions)
    await probe.stop()
    consumer = AIOKafkaConsumer(**kafka_options(settings.kafka), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in starts.items()})
    finally:
        await consumer.stop()
