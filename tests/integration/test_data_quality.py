"""Realistic data on real Kafka and Redis (issue 17): flags, codes, nulls, strings where numbers belong, unseen
categories, a traffic drop and a class-probability prediction, each an incident of its own model at window 7,
and 200k events of the same messy data with no incident, on which nothing may alert.

One worker run for all of them: the models are independent, so sharing the run costs nothing in strength.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from driftline.config.events import DriftAlert
from driftline.config.settings import Settings
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.oracle import read_all
from driftline.streams.testing.realistic import REGION_MIX, Profile, RealisticModel, shifted
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.kafka import produce
from ..support.waiting import wait_closed

pytestmark = [pytest.mark.integration]

WINDOWS, INCIDENT, N = 10, 7, 1000
CALM_WINDOWS, CALM_N = 100, 2000

INCIDENTS: dict[str, Profile] = {
    "flag": shifted(flag_rate=0.40),
    "code": shifted(region_mix=tuple(reversed(REGION_MIX))),
    "missing": shifted(income_null=0.25, tenure_absent=1.0),
    "types": shifted(amount_strings=0.20),
    "unseen": shifted(unseen_channel=0.08, new_channel="atm"),
    "classes": shifted(fraud_logit=-1.0),
    "volume": Profile(),  # the same data, a tenth of the events
}


async def test_realistic_incidents_fire_their_signal_and_realistic_calm_data_fires_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    suffix = settings.app_id[-8:]
    models = {name: RealisticModel(model_id=f"dq-{name}-{suffix}", seed=20 + i) for i, name in enumerate(INCIDENTS)}
    calm = RealisticModel(model_id=f"dq-calm-{suffix}", seed=40)
    events: list[dict[str, object]] = []
    for name, model in models.items():
        for w in range(WINDOWS):
            incident = w == INCIDENT
            n = N // 10 if incident and name == "volume" else N
            events += model.events(window=w, n=n, profile=INCIDENTS[name] if incident else Profile())
    for w in range(CALM_WINDOWS):
        events += calm.events(window=w, n=CALM_N)
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    try:
        for model in [*models.values(), calm]:
            await store.put_reference(model.reference())
        with WorkerProcess(settings, log_path=tmp_path / "worker.log") as worker:
            await produce(settings, events)
            await wait_closed(store, worker, [m.model_id for m in models.values()], WINDOWS, seconds=240)
            await wait_closed(store, worker, [calm.model_id], CALM_WINDOWS, seconds=240)
        alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in await read_all(settings, settings.topics.alerts)]
    finally:
        await store.close()

    def fired(name: str) -> dict[tuple[str, str], DriftAlert]:
        return {(a.feature, a.detector): a for a in alerts
                if a.model_id == models[name].model_id and a.state == "firing"}

    def features(name: str) -> set[str]:
        return {feature for feature, _ in fired(name)}

    calm_alerts = [a for a in alerts if a.model_id == calm.model_id]
    assert not calm_alerts, [(a.feature, a.detector, a.statistic, a.threshold) for a in calm_alerts]
    for name in INCIDENTS:  # every incident in its window, and nothing before it
        early = [a for a in fired(name).values() if a.window.start.timestamp() % 86_400 // 60 < INCIDENT]
        assert not early, (name, [(a.feature, a.detector) for a in early])

    assert "is_new_customer" in features("flag")  # a 0/1 flag, 3 % -> 40 % ones
    assert "region_code" in features("code")  # an integer code's mix
    assert {("income", "missing"), ("tenure_days", "missing")} <= set(fired("missing"))  # null, and absent

    (types,) = [a for key, a in fired("types").items() if key == ("amount", "type_mismatch")]
    strings = sum(1 for e in events if e["model_id"] == models["types"].model_id
                  and _window(e) == INCIDENT and isinstance(_features(e)["amount"], str))
    assert types.statistic == strings / N  # every string counted, as the wrong type (not as missing)
    assert ("amount", "missing") not in fired("types")

    unseen = fired("unseen")[("channel", "unseen")]
    sent = Counter(_features(e)["channel"] for e in events
                   if e["model_id"] == models["unseen"].model_id and _window(e) == INCIDENT)
    assert unseen.evidence is not None and unseen.evidence.kind == "values"
    assert unseen.evidence.values == {"atm": sent["atm"]}  # named, and counted exactly

    volume = fired("volume")[("__volume__", "volume")]
    assert (volume.severity, round(volume.statistic, 2)) == ("critical", 0.1)

    classes = {f: a.statistic for (f, d), a in fired("classes").items() if f.startswith("__prediction__[")}
    assert max(classes, key=lambda f: classes[f]) == "__prediction__[fraud]", classes


def _window(event: dict[str, object]) -> int:
    return int(str(event["prediction_id"]).rsplit("-", 2)[-2])


def _features(event: dict[str, object]) -> dict[str, object]:
    features = event["features"]
    assert isinstance(features, dict)
    return features
