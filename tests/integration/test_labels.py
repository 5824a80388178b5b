"""Late labels joined to stored predictions on real Kafka and Redis: an error rate that jumps raises
one concept-drift (``__performance__``) alert and a retrain trigger; every label is counted once,
the unmatched and the malformed ones apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from driftline.config.events import PERFORMANCE_FEATURE, DeadLetter, DriftAlert, RetrainTrigger
from driftline.config.settings import Settings
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.state import RedisState
from driftline.streams.state.labels import RedisLabelStore
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess
from driftline.views.status import status_lines

from ..support.kafka import produce, read_topic
from ..support.waiting import wait_counted, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

WINDOWS, PER_WINDOW, JUMP_AT = 8, 1000, 4000


def labels_for(events: list[dict[str, object]], rng: np.random.Generator) -> list[bytes]:
    """Ground truth an hour late: right 92% of the time at first, 60% from the JUMP_AT-th prediction on."""
    out = []
    for i, event in enumerate(events):
        predicted = float(event["prediction"]) >= 0.5  # type: ignore[arg-type]
        right = rng.random() < (0.92 if i < JUMP_AT else 0.60)
        out.append(orjson.dumps({"model_id": event["model_id"], "prediction_id": event["prediction_id"],
                                 "label": int(predicted == right), "ts": float(event["ts"]) + 3600}))  # type: ignore[arg-type]
    return out


async def test_an_error_rate_jump_raises_a_concept_drift_alert_and_a_retrain_trigger(
    settings: Settings, tmp_path: Path
) -> None:
    sim = FraudSimulator(model_id=f"labels-{settings.app_id[-8:]}", seed=12)
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    label_store = RedisLabelStore(store.redis)
    await store.put_reference(sim.reference())
    events = [e for w in range(WINDOWS) for e in sim.events(window=w, n=PER_WINDOW)]
    labels = labels_for(events, np.random.default_rng(0))
    strays = [orjson.dumps({"model_id": sim.model_id, "prediction_id": "never-seen", "label": 1, "ts": 1.0}),
              b'{"model_id": "x", "label": 1}']
    try:
        with WorkerProcess(settings, log_path=tmp_path / "worker.log", extra_args=["--join-labels"]) as worker:
            await produce(settings, events)

            assert await wait_counted(store, sim.model_id, WINDOWS, len(events)) == len(events)  # all kept
            await produce(settings, [*labels, *strays], topic=settings.topics.labels, key=sim.model_id)

            async def joined() -> bool:
                assert worker.alive(), worker.log_tail()
                counts = await label_store.counts(sim.model_id)
                return counts.get("joined", 0) + counts.get("unmatched", 0) >= len(labels) + 1

            await wait_until(joined, 120, "every label to be joined")
            counts = await label_store.counts(sim.model_id)
            lines = await status_lines(RedisState(store.redis))
            status = [line for line in lines if line.startswith(sim.model_id + " ")]
        (performance_row,) = [line.split() for line in status if PERFORMANCE_FEATURE in line]
        assert performance_row[2] == "error_rate" and performance_row[-2:] == ["(1", "unmatched)"]
        assert abs(float(performance_row[3]) - counts["errors"] / counts["joined"]) < 1e-3
        assert counts["joined"] == len(labels) and counts["unmatched"] == 1  # each once; the stray apart
        expected_errors = sum(1 for e, v in zip(events, labels, strict=True)
                              if (float(e["prediction"]) >= 0.5) != bool(orjson.loads(v)["label"]))  # type: ignore[arg-type]
        assert counts["errors"] == expected_errors

        alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in await read_topic(settings, settings.topics.alerts, 1)]
        performance = [a for a in alerts if a.feature == PERFORMANCE_FEATURE]
        assert [(a.detector, a.state) for a in performance][:1] == [("ddm", "firing")]
        assert len([a for a in performance if a.state == "firing"]) == 1
        jump_time = float(events[JUMP_AT]["ts"]) + 3600  # type: ignore[arg-type]
        assert jump_time <= performance[0].window.end.timestamp() < jump_time + 120  # found within ~2k labels
        assert not [a for a in alerts if a.feature != PERFORMANCE_FEATURE]  # no covariate drift was injected

        triggers = [decode(v, RetrainTrigger, max_bytes=10**6)
                    for v in await read_topic(settings, settings.topics.retrain, 1)]
        assert [(t.model_id, t.policy) for t in triggers] == [(sim.model_id, "performance")]
        raw_letters = await read_topic(settings, settings.topics.deadletter, 1)
        letters = [decode(v, DeadLetter, max_bytes=10**6) for v in raw_letters]
        assert [d.topic for d in letters] == [settings.topics.labels] and "prediction_id" in letters[0].reason
    finally:
        await store.close()
