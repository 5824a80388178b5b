"""A stream that stops, on real Kafka and Redis: after ``idle_close_seconds`` the model's event time is taken to
advance with the clock, so its last window is judged instead of waiting for an event that may never come (an
event for it after that counts as late); after ``silence_seconds`` a ``silence`` alert fires, and the model's
next events resolve it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from driftline.config.events import DriftAlert
from driftline.config.settings import Settings
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.oracle import read_all
from driftline.streams.testing.simulate import FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.kafka import produce
from ..support.waiting import wait_closed, wait_until

pytestmark = [pytest.mark.integration]

IDLE, SILENCE = 4.0, 8.0


async def test_the_last_window_of_a_quiet_stream_closes_within_the_idle_time(
    settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"idle_close_seconds": IDLE, "silence_seconds": SILENCE})
    sim = FraudSimulator(model_id=f"quiet-{settings.app_id[-8:]}", seed=4)
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    await store.put_reference(sim.reference())
    try:
        with WorkerProcess(settings, log_path=tmp_path / "worker.log") as worker:
            await produce(settings, [e for w in range(3) for e in sim.events(window=w, n=300)])
            await wait_closed(store, worker, [sim.model_id], 3)  # windows 0 and 1, by event time
            stopped = time.monotonic()

            async def last_closed() -> bool:
                assert worker.alive(), worker.log_tail()
                return await store.closed_window_count(sim.model_id) == 3

            await wait_until(last_closed, 60, "the last window to close by the clock")
            waited = time.monotonic() - stopped
            assert "closed 1 window(s) its event time has passed by the clock" in worker.log_tail(100_000)

            async def silence(state: str) -> bool:
                values = await read_all(settings, settings.topics.alerts)
                alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in values]
                return any(a.detector == "silence" and a.state == state for a in alerts)

            await wait_until(lambda: silence("firing"), 60, "the silence alert")
            silent_for = time.monotonic() - stopped
            await produce(settings, list(sim.events(window=2, n=5)))  # too late now: window 2 is judged

            async def counted_late() -> bool:
                return await store.late_count(sim.model_id) == 5

            await wait_until(counted_late, 30, "the late events to be counted")
            await wait_until(lambda: silence("resolved"), 30, "the silence to be resolved by the events")
        assert waited < IDLE + 15  # the idle time, then the clock past the last event (its window's end)
        assert SILENCE <= silent_for + 1 < SILENCE + 20
        assert await store.closed_window_count(sim.model_id) == 3
    finally:
        await store.close()
