"""The monitor's drift promises on real Kafka and Redis with a real worker process.

- covariate drift in one numeric and one categorical feature: firing and later
  resolved alerts for exactly those two features, nothing else;
- a shift of the model's scores alone: a prediction-drift alert (``__prediction__``);
- 200k events with no drift: no alert at all, and every event counted exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

import pytest

from driftline.config.events import (
    PREDICTION_FEATURE,
    CategoricalEvidence,
    DriftAlert,
    HistogramEvidence,
    RetrainTrigger,
)
from driftline.config.settings import Settings
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import EPOCH, FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.kafka import produce, read_topic
from ..support.triggers import RECORD, read_lines, start, stop, wait_lines
from ..support.waiting import wait_closed, wait_counted

pytestmark = pytest.mark.integration

WINDOWS, DRIFT_AT, DRIFT_END = 12, 3, 7


def window_of(alert: DriftAlert) -> int:
    return int((alert.window.start.timestamp() - EPOCH.timestamp()) // 60)


async def test_covariate_and_prediction_drift_alert_on_exactly_the_drifted_features(
    settings: Settings, tmp_path: Path
) -> None:
    run = settings.app_id[-8:]
    covariate, prior = FraudSimulator(model_id=f"cov-{run}"), FraudSimulator(model_id=f"prior-{run}", seed=11)
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    for sim in (covariate, prior):
        await store.put_reference(sim.reference())

    def traffic() -> Iterable[dict[str, object]]:
        for window in range(WINDOWS):
            drifting = DRIFT_AT <= window < DRIFT_END
            yield from covariate.events(
                window=window, n=1000, shift={"amount": 1.0} if drifting else None,
                category_shift={"channel": ("pos", 0.5)} if drifting else None,
            )
            yield from prior.events(window=window, n=1000, score_shift=1.5 if drifting else 0.0)

    try:
        with WorkerProcess(settings, log_path=tmp_path / "worker.log") as worker:
            produced = await produce(settings, traffic())
            await wait_closed(store, worker, [covariate.model_id, prior.model_id], WINDOWS)
            counted = [await wait_counted(store, s.model_id, WINDOWS, produced // 2) for s in (covariate, prior)]
        assert counted == [produced // 2, produced // 2]  # exactly once each

        values = await read_topic(settings, settings.topics.alerts, 6)
        alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in values]
        by_model = {m: [a for a in alerts if a.model_id == m] for m in (covariate.model_id, prior.model_id)}

        cov = by_model[covariate.model_id]
        assert {a.feature for a in cov} == {"amount", "channel"}
        for feature, evidence_kind in (("amount", HistogramEvidence), ("channel", CategoricalEvidence)):
            story = [(a.state, window_of(a)) for a in cov if a.feature == feature]
            assert story == [("firing", DRIFT_AT), ("resolved", DRIFT_END + 1)], story
            firing = next(a for a in cov if a.feature == feature)
            assert isinstance(firing.evidence, evidence_kind) and firing.p_value is not None
            assert firing.p_value < 0.05 and firing.statistic >= firing.threshold
        channel = next(a for a in cov if a.feature == "channel")
        assert isinstance(channel.evidence, CategoricalEvidence)
        pos = channel.evidence.categories.index("pos")
        assert channel.evidence.current[pos] > channel.evidence.reference[pos] + 0.2

        prior_alerts = by_model[prior.model_id]
        assert {a.feature for a in prior_alerts} == {PREDICTION_FEATURE}
        assert [(a.state, window_of(a)) for a in prior_alerts] == [("firing", DRIFT_AT), ("resolved", DRIFT_END + 1)]
        assert len({a.alert_id for a in alerts}) == len(alerts)

        # the default retrain policy: critical drift on 2 features, or on the prediction, triggers once each
        raw_triggers = await read_topic(settings, settings.topics.retrain, 2)
        triggers = [decode(v, RetrainTrigger, max_bytes=10**6) for v in raw_triggers]
        assert sorted((t.model_id, t.policy) for t in triggers) == [
            (covariate.model_id, "critical_features>=2"), (prior.model_id, "prediction_drift")]
        firing_ids = {a.alert_id for a in alerts if a.state == "firing"}
        assert all(set(t.alert_ids) <= firing_ids for t in triggers)

        # and `driftline triggers exec` runs a command once for each of them
        ran = tmp_path / "ran.txt"
        runner = start(settings, RECORD, str(ran))
        await wait_lines(ran, 2)
        await asyncio.sleep(2.0)  # time enough for a (wrong) second run
        stop(runner)
        assert sorted(line.split()[0] for line in read_lines(ran)) == sorted(t.trigger_id for t in triggers)
    finally:
        await store.close()


async def test_200k_events_without_drift_raise_no_alert_and_count_exactly(settings: Settings, tmp_path: Path) -> None:
    sim = FraudSimulator(model_id=f"quiet-{settings.app_id[-8:]}", seed=23)
    windows, per_window = 20, 10_000
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    await store.put_reference(sim.reference())
    try:
        with WorkerProcess(settings, log_path=tmp_path / "worker.log") as worker:
            events = (e for w in range(windows) for e in sim.events(window=w, n=per_window))
            produced = await produce(settings, events)
            await wait_closed(store, worker, [sim.model_id], windows, seconds=240)
            counted = await wait_counted(store, sim.model_id, windows, produced)
        assert produced == 200_000 and counted == produced
        latest = await store.latest(sim.model_id)
        distributions = [key for key in latest if "#" not in key]  # beside their data-quality signals
        assert set(distributions) == set(sim.reference().features)  # every feature evaluated, the shaped ones too
        assert all(stat.get("severity") is None for stat in latest.values()), latest
        alerts = await read_topic(settings, settings.topics.alerts)
        assert alerts == []
    finally:
        await store.close()
