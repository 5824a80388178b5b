"""Features sent apart from their predictions (FeatureEvents on the features topic, PredictionEvents with no
features) through workers killed with -9 five times: every event counted exactly once, each in its own
window or as late, and each counted event's features and prediction in the window that counted it."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from driftline.config import PREDICTION_FEATURE
from driftline.config.settings import Settings
from driftline.detectors import values_counted
from driftline.streams.app.topics import ensure_topics
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.oracle import AlertLog, read_all
from driftline.streams.testing.simulate import EPOCH, FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.waiting import wait_until
from .test_label_kills import send_paced

WINDOWS, PER_WINDOW, KILLS = 8, 1000, 5
FIRST = int(EPOCH.timestamp() // 60)  # the first window's id (the worker's default one-minute windows)


async def test_five_sigkills_while_features_come_apart_count_every_event_once(
    settings: Settings, store: RedisWindowStore, tmp_path: Path
) -> None:
    sim = FraudSimulator(model_id=f"apart-{settings.app_id[-8:]}", seed=31)
    await ensure_topics(settings)
    await store.put_reference(sim.reference())
    order: list[tuple[str, dict[str, object]]] = []
    for event in (e for w in range(WINDOWS) for e in sim.events(window=w, n=PER_WINDOW)):
        order.append(("features", {"model_id": event["model_id"], "ts": event["ts"], "features": event["features"],
                                   "prediction_id": event["prediction_id"]}))
        order.append(("predictions", {**event, "features": {}}))
    sent = len(order)
    producing = asyncio.create_task(send_paced(settings, order, seconds=30))
    rng = random.Random(13)
    for kill in range(KILLS):
        worker = WorkerProcess(settings, log_path=tmp_path / f"w{kill}.log", loglevel="warning")
        worker.start()
        await asyncio.sleep(rng.uniform(3.0, 7.0))  # start-up is ~3 s: before, during or after a batch
        worker.kill()
    await producing

    async def counted() -> int:
        windows = [await store.read_bucket(sim.model_id, FIRST + w) for w in range(WINDOWS)]
        return sum(w.n_events for w in windows) + await store.late_count(sim.model_id)

    with WorkerProcess(settings, log_path=tmp_path / "last.log", loglevel="warning") as last:
        async def all_counted() -> bool:
            assert last.alive(), last.log_tail()
            return await counted() >= sent

        await wait_until(all_counted, 180, "every event to be counted")
        await asyncio.sleep(2.0)  # a double count gets the time to show
        assert await counted() == sent
        for w in range(FIRST, FIRST + WINDOWS):
            counts = (await store.read_bucket(sim.model_id, w)).features
            features, predictions = values_counted(counts["amount"]), values_counted(counts[PREDICTION_FEATURE])
            # every FeatureEvent counted carries amount, every prediction its score: together, the window's events
            assert features + predictions == (await store.read_bucket(sim.model_id, w)).n_events, w
            assert features <= PER_WINDOW and predictions <= PER_WINDOW
            assert "null" not in counts["amount"]  # predictions without features never count as missing them
    alerts = AlertLog.of(await read_all(settings, settings.topics.alerts))
    assert not alerts.conflicting

