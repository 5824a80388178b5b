"""Waiting in the tests: for a condition, for a model's windows to close, for its events to be counted.

`wait_until` fails the test when time is up, `poll` says whether the condition came true in time; `wait_closed`
and `wait_counted` are the waits that end most integration tests, over the counts `counted` reads. (The fault
suite's `Workload` is waited for by the oracle: ``driftline.streams.testing.oracle.wait_counted``.)
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable

from driftline.detectors import values_counted
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.oracle import Counted
from driftline.streams.testing.simulate import EPOCH
from driftline.streams.testing.worker_process import WorkerProcess


async def poll(predicate: Callable[[], Awaitable[bool]], seconds: float, *, every: float = 0.5) -> bool:
    """Whether ``predicate`` came true within ``seconds``, asked every ``every`` seconds (at least once)."""
    deadline = time.monotonic() + seconds
    while not await predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every)
    return True


async def wait_until(predicate: Callable[[], Awaitable[bool]], seconds: float, what: str, *,
                     every: float = 0.5) -> None:
    """Until ``predicate`` is true; fails the test (AssertionError naming ``what``) after ``seconds``."""
    if not await poll(predicate, seconds, every=every):
        raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def assert_alive(*workers: WorkerProcess) -> None:
    """Every worker still runs (else the end of its log says why)."""
    for worker in workers:
        assert worker.alive(), worker.log_tail()


async def counted(store: RedisWindowStore, model_ids: str | Iterable[str], windows: int) -> Counted:
    """What Redis holds of the models' first ``windows`` windows of the simulator (one minute each from EPOCH):
    the events in them, the models' late events, and per feature the values counted (bins and nulls)."""
    first = int(EPOCH.timestamp()) // 60
    in_windows, late = 0, 0
    per_feature: defaultdict[str, int] = defaultdict(int)
    for model_id in [model_ids] if isinstance(model_ids, str) else model_ids:
        late += await store.late_count(model_id)
        for w in range(first, first + windows):
            bucket = await store.read_bucket(model_id, w)
            in_windows += bucket.n_events
            for feature, bins in bucket.features.items():
                per_feature[feature] += values_counted(bins)
    return Counted(in_windows, late, dict(per_feature))


async def wait_closed(
    store: RedisWindowStore, worker: WorkerProcess, model_ids: list[str], windows: int, seconds: float = 120
) -> None:
    """Until every model has closed all but its last window (the last has no later event to close it)."""

    async def closed() -> bool:
        assert_alive(worker)
        return min([await store.closed_window_count(m) for m in model_ids]) >= windows - 1

    await wait_until(closed, seconds, "every finished window to close")


async def wait_counted(
    store: RedisWindowStore,
    model_ids: str | Iterable[str],
    windows: int,
    n: int,
    *,
    seconds: float = 60,
    settle: float = 1.0,
    workers: Iterable[WorkerProcess] = (),
) -> int:
    """Until the models' windows hold ``n`` events (the last window's may still be in flight), the ``workers``
    alive meanwhile, then the count after ``settle`` seconds more: anything above ``n`` would be a double count,
    so it gets the time to show. When ``seconds`` are up first, the count then. Callers assert it is ``n``."""
    model_ids = [model_ids] if isinstance(model_ids, str) else list(model_ids)
    workers = list(workers)

    async def all_there() -> bool:
        assert_alive(*workers)
        return (await counted(store, model_ids, windows)).in_windows >= n

    if await poll(all_there, seconds):
        await asyncio.sleep(settle)
    return (await counted(store, model_ids, windows)).in_windows
