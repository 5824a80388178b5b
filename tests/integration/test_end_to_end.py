"""The walking skeleton end to end on real Kafka and Redis, with a real worker process.

Events from the reference distribution, then events where one feature is
shifted for a while: exactly that feature fires once when the drift starts and
resolves once after it ends (the alert policy's hysteresis); a malformed
message lands in the dead-letter topic with its reason; and every valid event
is counted exactly once in Redis.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline.config.events import DeadLetter, DriftAlert
from driftline.config.settings import Settings
from driftline.detectors.reference import ModelReference
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.state import RedisState
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import EPOCH, FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess
from driftline.views.status import status_lines

from ..support.kafka import produce, read_topic
from ..support.waiting import counted, wait_closed

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

WINDOWS, DRIFT_AT, DRIFT_END, PER_WINDOW = 12, 4, 8, 500
MALFORMED = b'{"model_id": "fraud-detector", "features": '


def traffic(sim: FraudSimulator) -> Iterator[dict[str, object] | bytes]:
    """The model's windows, ``amount`` shifted from DRIFT_AT to DRIFT_END, and a malformed message after window 2."""
    for window in range(WINDOWS):
        shift = {"amount": 1.0} if DRIFT_AT <= window < DRIFT_END else None
        yield from sim.events(window=window, n=PER_WINDOW, shift=shift)
        if window == 2:
            yield MALFORMED


async def test_shifted_feature_alerts_alone_and_malformed_message_is_dead_lettered(
    settings: Settings, tmp_path: Path
) -> None:
    sim = FraudSimulator(model_id=f"fraud-{settings.app_id[-8:]}")
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    await store.put_reference(ModelReference.build(sim.model_id, sim.model_version, sim.reference_sample()))
    worker = WorkerProcess(settings, log_path=tmp_path / "worker.log", window_seconds=60)
    try:
        with worker:
            produced = await produce(settings, traffic(sim), key=sim.model_id) - 1  # all but the malformed one
            await wait_closed(store, worker, [sim.model_id], WINDOWS)
            now = await counted(store, sim.model_id, WINDOWS)
            lines = await status_lines(RedisState(store.redis))
            status = [line for line in lines if line.startswith(sim.model_id + " ")]
        assert now.in_windows == produced  # every valid event exactly once
        budget = [line for line in status if " false alarms: " in line]
        status = [line for line in status if line not in budget]
        assert len(status) == 20
        assert len(budget) == 1 and "no budget set" in budget[0]  # what the model expects, from its last window
        assert [line.split()[1] for line in status if "DRIFT" in line] == []  # the drift ended before the last window

        alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in await read_topic(settings, settings.topics.alerts, 1)]
        assert {a.feature for a in alerts} == {"amount"}
        story = [(a.state, a.severity, int((a.window.start.timestamp() - EPOCH.timestamp()) // 60)) for a in alerts]
        # fires on the first drifted window; resolves after 2 clean windows (resolve_after = 2)
        assert story == [("firing", "critical", DRIFT_AT), ("resolved", "critical", DRIFT_END + 1)]
        assert alerts[0].statistic >= alerts[0].threshold and alerts[1].statistic < 0.1
        assert len({a.alert_id for a in alerts}) == len(alerts)

        raw_letters = await read_topic(settings, settings.topics.deadletter, 1)
        letters = [decode(v, DeadLetter, max_bytes=10**6) for v in raw_letters]
        assert len(letters) == 1
        assert letters[0].reason.startswith("not JSON")
        assert base64.b64decode(letters[0].payload_b64) == MALFORMED
        assert letters[0].topic == settings.topics.predictions
    finally:
        await store.close()
