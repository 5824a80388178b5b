"""A Redis that lost the state Kafka's committed offsets stand for (restored empty, or from an older
snapshot): on assignment the worker starts where Redis' progress is, re-reads, and counts exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.config.settings import Settings
from driftline.streams.app.topics import ensure_topics
from driftline.streams.state import keys
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.kafka import produce
from ..support.waiting import assert_alive, counted, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

WINDOWS = 6


async def test_a_worker_rereads_what_redis_lost(settings: Settings, tmp_path: Path) -> None:
    sim = FraudSimulator(model_id=f"lost-{settings.app_id[-8:]}", seed=6)
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    reference = sim.reference()
    await store.put_reference(reference)
    try:
        produced = await produce(settings, (e for w in range(WINDOWS) for e in sim.events(window=w, n=1000)))
        with WorkerProcess(settings, log_path=tmp_path / "first.log"):
            async def all_counted() -> bool:
                return (await counted(store, sim.model_id, WINDOWS)).in_windows == produced

            await wait_until(all_counted, 60, "the first worker to count everything")
        # Redis loses everything (restored from an empty snapshot); Kafka keeps the group's committed offsets.
        lost = [k async for k in store.redis.scan_iter(match=f"dl:{{{sim.model_id}}}:*")]
        await store.redis.delete(*lost, keys.partition_progress(f"{settings.app_id}.predictions"))
        await store.put_reference(reference)
        with WorkerProcess(settings, log_path=tmp_path / "second.log") as second:
            async def recounted() -> bool:
                assert_alive(second)
                return (await counted(store, sim.model_id, WINDOWS)).in_windows >= produced

            await wait_until(recounted, 60, "the second worker to re-read what Redis lost")
            assert "no progress in Redis (state lost?)" in second.log_tail(200_000)
        assert (await counted(store, sim.model_id, WINDOWS)).in_windows == produced
    finally:
        await store.close()
