"""Event time gone wrong: out of order, late within and beyond the allowed lateness, stamped decades in
the past, and stamped far in the future by a producer whose clock is ahead. Each is handled by a
windowing rule and counted; none is silently dropped, and none closes windows early."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import orjson

from driftline.config.events import DeadLetter
from driftline.config.settings import Settings
from driftline.streams.ingest.decode import decode
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.oracle import counted, read_all
from driftline.streams.testing.simulate import FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.kafka import produce
from ..support.waiting import wait_until
from .conftest import WORKLOAD

PER_WINDOW, WINDOWS, LATENESS = 600, 6, 30


async def test_out_of_order_late_and_skewed_events_are_each_counted_by_a_rule(
    settings: Settings, store: RedisWindowStore, tmp_path: Path
) -> None:
    sim = FraudSimulator(model_id=f"{WORKLOAD.prefix}-0", seed=100)  # its reference is in Redis (fixture)
    rng = random.Random(3)
    windows = [list(sim.events(window=w, n=PER_WINDOW)) for w in range(WINDOWS)]
    # Out of order by up to the lateness: each event may arrive after any event less than 30 s newer.
    stream = sorted((e for events in windows for e in events),
                    key=lambda e: float(e["ts"]) + rng.uniform(0, LATENESS))  # type: ignore[arg-type]
    assert stream != [e for events in windows for e in events]
    too_late = [dict(e, prediction_id=f"late-{i}") for i, e in enumerate(windows[0][:50])]  # window 0 closed
    ancient = [dict(e, prediction_id=f"old-{i}", ts=1.0 + i) for i, e in enumerate(windows[1][:20])]  # 1970
    future = [dict(e, prediction_id=f"future-{i}", ts=4_102_444_800.0) for i, e in enumerate(windows[2][:10])]
    stragglers = too_late + ancient + future + [dict(e, prediction_id=f"tail-{i}") for i, e in
                                                enumerate(sim.events(window=WINDOWS, n=100))]
    valid = len(stream) + len(stragglers) - len(future)

    with WorkerProcess(settings, log_path=tmp_path / "worker.log", lateness_seconds=LATENESS) as worker:
        async def counted_at_least(n: int) -> bool:
            assert worker.alive(), worker.log_tail()
            return (await counted(store, WORKLOAD)).events >= n

        await produce(settings, stream, key=sim.model_id, enable_idempotence=True)
        await wait_until(lambda: counted_at_least(len(stream)), 90, "the windows' events to be counted", every=0.1)
        assert (await counted(store, WORKLOAD)).late == 0  # disorder within the lateness is not lateness
        await produce(settings, stragglers, key=sim.model_id, enable_idempotence=True)  # into a running stream
        await wait_until(lambda: counted_at_least(valid), 90, "every valid event to be counted", every=0.1)
        await asyncio.sleep(3)
        now = await counted(store, WORKLOAD)
        letters = [decode(v, DeadLetter, max_bytes=10**7) for v in await read_all(settings, settings.topics.deadletter)]
        closed = await store.closed_window_count(sim.model_id)
    assert (now.events, now.late) == (valid, len(too_late) + len(ancient))
    assert sorted(orjson.loads(_payload(d))["prediction_id"] for d in letters) == sorted(
        str(e["prediction_id"]) for e in future)
    assert all(d.reason.startswith("event time 2100-01-01") for d in letters)
    # the future stamps closed nothing: windows 0..WINDOWS-2 closed by the tail, the last one still open
    assert closed == WINDOWS
    assert not await store.closable_buckets(sim.model_id, bucket_seconds=60, lateness_seconds=LATENESS)


def _payload(letter: DeadLetter) -> bytes:
    import base64

    return base64.b64decode(letter.payload_b64)

