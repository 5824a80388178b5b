"""Exactly-once state under at-least-once delivery: Redis counts equal the valid events produced,
after SIGKILLs of the worker mid-stream and with two workers sharing the consumer group."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline.config.settings import Settings
from driftline.streams.app.topics import ensure_topics
from driftline.streams.state import keys
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.kafka import produce
from ..support.waiting import counted, poll, wait_counted

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


def traffic(sims: list[FraudSimulator]) -> Iterator[dict[str, object]]:
    """Window by window, each model's events of the window in turn (keyed by model id)."""
    for window in range(WINDOWS):
        for sim in sims:
            yield from sim.events(window=window, n=PER_WINDOW)


async def kept_predictions(store: RedisWindowStore, sims: list[FraudSimulator]) -> int:
    """Predictions kept for the label join, in every day they are kept under (the days they were stored)."""
    total = 0
    for sim in sims:
        for day in await store.redis.zrange(keys.prediction_days(sim.model_id), 0, -1):
            total += await store.redis.hlen(keys.predictions(sim.model_id, int(day)))
    return total


async def test_sigkill_mid_stream_then_restart_counts_every_event_once(settings: Settings, tmp_path: Path) -> None:
    sims, store = await setup(settings, f"kill-{settings.app_id[-8:]}")
    models = [sim.model_id for sim in sims]

    async def counted_more_than(n: int) -> bool:
        return (await counted(store, models, WINDOWS)).in_windows > n

    try:
        produced = await produce(settings, traffic(sims))
        worker = WorkerProcess(settings, log_path=tmp_path / "worker.log", loglevel="warning",
                               extra_args=["--join-labels"])
        kills = 0
        for _ in range(3):
            worker.start()
            before = (await counted(store, models, WINDOWS)).in_windows
            # kill as soon as it has applied something: mid-stream
            await poll(lambda before=before: counted_more_than(before), 60, every=0.05)
            worker.kill()
            kills += 1
        assert (await counted(store, models, WINDOWS)).in_windows < produced, "the stream finished before the kills"
        worker.start()
        total = await wait_counted(store, models, WINDOWS, produced, seconds=120, settle=2.0, workers=[worker])
        worker.stop()
        now = await counted(store, models, WINDOWS)
        assert (kills, total, now.late) == (3, produced, 0)
        assert now.per_feature == {name: produced for name in now.per_feature}
        assert set(now.per_feature) == set(sims[0].reference().features)  # the shaped features too
        assert await kept_predictions(store, sims) == produced  # each kept once for the label join
    finally:
        await store.close()


async def test_two_workers_in_one_group_count_every_event_once(settings: Settings, tmp_path: Path) -> None:
    sims, store = await setup(settings, f"two-{settings.app_id[-8:]}")
    models = [sim.model_id for sim in sims]
    try:
        with WorkerProcess(settings, log_path=tmp_path / "w1.log", loglevel="info") as w1, \
                WorkerProcess(settings, log_path=tmp_path / "w2.log", loglevel="info") as w2:
            produced = await produce(settings, traffic(sims))
            total = await wait_counted(store, models, WINDOWS, produced, seconds=120, settle=2.0, workers=[w1, w2])
        assert (total, (await counted(store, models, WINDOWS)).late) == (produced, 0)
        # both workers had partitions (the group spread the work)
        assert "assigned [(" in w1.log_tail(200_000) and "assigned [(" in w2.log_tail(200_000)
    finally:
        await store.close()
