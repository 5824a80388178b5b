"""A running worker picks up a new reference version without a restart: drift against v1 fires,
and once v2 (built from the new normal) is set, the same traffic resolves against it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from driftline.config.events import DriftAlert
from driftline.config.settings import Settings
from driftline.detectors.reference import ModelReference
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import EPOCH, NUMERIC_FEATURES, FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.kafka import produce, read_topic
from ..support.waiting import wait_closed

pytestmark = pytest.mark.integration

SHIFT = {"amount": 1.0}


async def test_a_new_reference_version_is_used_without_a_restart(settings: Settings, tmp_path: Path) -> None:
    sim = FraudSimulator(model_id=f"refv-{settings.app_id[-8:]}", seed=5)
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    await store.put_reference(sim.reference(version="v1"))
    shifted = sim.numeric_sample(20_000, np.random.default_rng(99), SHIFT)
    v2 = ModelReference.build(sim.model_id, "v2", {n: shifted[:, i] for i, n in enumerate(NUMERIC_FEATURES)})
    try:
        with WorkerProcess(settings, log_path=tmp_path / "worker.log") as worker:
            await produce(settings, (e for w in range(6) for e in sim.events(
                window=w, n=1000, shift=SHIFT if w >= 3 else None)))
            await wait_closed(store, worker, [sim.model_id], 6)
            await store.put_reference(v2)
            await asyncio.sleep(11)  # the worker re-reads references every 10 s
            await produce(settings, (e for w in range(6, 11) for e in sim.events(window=w, n=1000, shift=SHIFT)))
            await wait_closed(store, worker, [sim.model_id], 11)
        alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in await read_topic(settings, settings.topics.alerts, 2)]
    finally:
        await store.close()
    story = [(a.state, a.reference_version, int((a.window.start.timestamp() - EPOCH.timestamp()) // 60))
             for a in alerts if a.feature == "amount"]
    assert story == [("firing", "v1", 3), ("resolved", "v2", 7)]
