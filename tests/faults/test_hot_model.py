"""Hot models: events keyed by ``prediction_id``, so every model's events spread over all 4 partitions and
both workers. Windows still close once per model across workers (the model's lease, ADR 0011), also when the
worker holding the lease is killed -9 between publishing a window's alerts and storing its close: every
event counted once, the alert ids of an undisturbed run (one worker, keyed by model), no id with two
contents."""

from __future__ import annotations

import asyncio
from pathlib import Path

from driftline.config.settings import Settings
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.oracle import produce
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.waiting import wait_until
from .conftest import WORKLOAD
from .scenarios import assert_exact, finish_and_judge, log_count

SPREAD = ["--spread-over-partitions"]
HOLDING = "fault point: alerts of"


async def test_two_workers_share_hot_models_and_a_kill_mid_close_changes_nothing(
    settings: Settings, store: RedisWindowStore, undisturbed_alert_ids: set[str], tmp_path: Path
) -> None:
    producing = asyncio.create_task(produce(settings, WORKLOAD, seconds=40, key_by="prediction_id"))
    held = settings.model_copy(update={"fault_hold_close_seconds": 120.0})
    holder = WorkerProcess(held, log_path=tmp_path / "holder.log", extra_args=SPREAD)
    holder.start()
    await wait_until(lambda: _holding(holder), 120, "the worker to hold a window's close, its alerts published",
                     every=0.1)
    holder.kill()  # its lease lapses by itself; the window's alerts are out, its close is not stored
    workers = [WorkerProcess(settings, log_path=tmp_path / f"w{i}.log", extra_args=SPREAD) for i in range(2)]
    for w in workers:
        w.start()
    await producing
    try:
        verdict = await finish_and_judge(settings, store, WORKLOAD, workers, undisturbed_alert_ids)
    finally:
        for w in workers:
            w.stop()
    assert_exact(verdict)
    # The next closer computed the held window again from the same stored state: the same alerts again.
    assert verdict.repeated_alerts >= 1, verdict
    for w in workers:  # both carried a share of the 4 partitions, so of every (spread) model
        assert "assigned [(" in w.log_tail(10_000_000), w.log_tail()
        assert "Traceback" not in w.log_tail(10_000_000), w.log_tail()


async def _holding(worker: WorkerProcess) -> bool:
    assert worker.alive(), worker.log_tail()
    return log_count(worker, HOLDING) > 0
