"""A model without training data: its first production events become its reference (warm-up),
and drift after them alerts as usual; every event is either in the reference or in a window, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.config.events import DriftAlert
from driftline.config.settings import Settings
from driftline.detectors import FeatureReference
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import EPOCH, FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.kafka import produce, read_topic
from ..support.waiting import wait_counted, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


async def test_warmup_reference_from_the_first_events_then_drift_alerts(settings: Settings, tmp_path: Path) -> None:
    sim = FraudSimulator(model_id=f"warm-{settings.app_id[-8:]}", seed=9)
    windows, drift = 13, range(6, 9)
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    traffic = (
        e for w in range(windows)
        for e in sim.events(window=w, n=1000, shift={"amount": 1.0} if w in drift else None)
    )
    try:
        args = ["--warmup-events", "3000"]
        with WorkerProcess(settings, log_path=tmp_path / "worker.log", extra_args=args) as worker:
            produced = await produce(settings, traffic)

            async def closed() -> bool:
                assert worker.alive(), worker.log_tail()
                return await store.closed_window_count(sim.model_id) >= 7

            await wait_until(closed, 120, "the warm-up reference and the windows after it")
            reference = await store.get_reference(sim.model_id)
            assert reference is not None and reference.version.startswith("warmup-")
            amount = reference.features["amount"]  # its values, nulls and strings: one per event
            assert isinstance(amount, FeatureReference)
            in_reference = sum(amount.counts) + amount.nulls + amount.mismatched
            assert 3000 <= in_reference <= 6000
            assert reference.features["channel"].kind == "categorical"
            assert reference.features["__prediction__"].kind == "numeric"
            # every event in the reference or a window, then time for a double count to show
            assert await wait_counted(store, sim.model_id, windows, produced - in_reference) + in_reference == produced
        alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in await read_topic(settings, settings.topics.alerts, 2)]
        story = [(a.feature, a.state, int((a.window.start.timestamp() - EPOCH.timestamp()) // 60)) for a in alerts]
        assert story == [("amount", "firing", 6), ("amount", "resolved", 10)]
        published = await read_topic(settings, settings.topics.references, 1)
        assert published and published[-1] == reference.to_json()  # the durable copy is the one in use
    finally:
        await store.close()
