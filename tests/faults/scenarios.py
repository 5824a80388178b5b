"""What every fault scenario ends with: wait for the stream to be processed, then judge it exactly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from driftline.config.settings import Settings
from driftline.streams.fault_oracle import AlertLog, Verdict, Workload, judge, read_all, topic_records, wait_counted
from driftline.streams.sketch_store import SketchStore
from driftline.streams.worker_process import WorkerProcess


async def finish_and_judge(
    settings: Settings,
    store: SketchStore,
    workload: Workload,
    workers: Sequence[WorkerProcess],
    expected_alert_ids: set[str] | None,
    *,
    seconds: float = 180,
) -> Verdict:
    """Wait until the live workers have counted the topic, then compare Redis and the alerts with it."""
    expected = await topic_records(settings, settings.topics.predictions)
    assert expected == workload.events, "the producer itself lost or duplicated events"

    def alive() -> None:
        for w in workers:
            assert w.alive(), w.log_tail()

    now = await wait_counted(store, workload, expected, seconds=seconds, alive=alive)
    alerts = AlertLog.of(await read_all(settings, settings.topics.alerts))
    verdict = judge(expected, now, alerts, expected_alert_ids)
    assert len(now.per_feature) == 24, now.per_feature  # 20 numeric, 3 categorical, the score
    return verdict


def assert_exact(verdict: Verdict) -> None:
    assert verdict.exact, verdict


async def wait_for(predicate: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def log_count(worker: WorkerProcess, text: str) -> int:
    return worker.log_tail(50_000_000).count(text)
