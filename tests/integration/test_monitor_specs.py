"""`driftline worker --spec FILE`: the spec decides the features, tests, window and policy of its model."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline.config.events import DriftAlert
from driftline.config.settings import Settings
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import EPOCH, FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess, _worker_env

from ..support.kafka import produce, read_topic
from ..support.waiting import wait_closed, wait_counted

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

SPEC = """
[models.{model}]
infer = false
window = {{ kind = "sliding", size_seconds = 120, step_seconds = 60 }}
features.amount = {{ kind = "numeric", tests = ["jensen_shannon", "ks"] }}
features.channel = {{ kind = "categorical", tests = ["chi_square"] }}
thresholds = {{ mode = "fixed", jensen_shannon = 0.2, min_samples = 500 }}
alert_policy = {{ fire_after = 2, resolve_after = 1 }}
"""


async def test_the_spec_chooses_features_tests_window_and_policy(settings: Settings, tmp_path: Path) -> None:
    sim = FraudSimulator(model_id=f"spec-{settings.app_id[-8:]}", seed=3)
    spec = tmp_path / "monitors.toml"
    spec.write_text(SPEC.format(model=sim.model_id))
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    await store.put_reference(sim.reference())
    windows, drift_at, drift_end = 10, 3, 6
    # amount, merchant_risk_score and channel drift; the spec watches amount and channel only
    traffic = (
        e for w in range(windows) for e in sim.events(
            window=w, n=1000,
            shift={"amount": 1.5, "merchant_risk_score": 2.0} if drift_at <= w < drift_end else None,
            category_shift={"channel": ("pos", 0.6)} if drift_at <= w < drift_end else None,
        )
    )
    try:
        with WorkerProcess(settings, log_path=tmp_path / "worker.log", extra_args=["--spec", str(spec)]) as worker:
            await produce(settings, traffic)
            await wait_closed(store, worker, [sim.model_id], windows)
        alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in await read_topic(settings, settings.topics.alerts, 4)]
    finally:
        await store.close()
    assert {a.feature for a in alerts} == {"amount", "channel"}
    assert {a.detector for a in alerts if a.feature == "amount"} == {"jensen_shannon"}
    assert {a.detector for a in alerts if a.feature == "channel"} == {"chi_square"}
    for alert in alerts:
        assert (alert.window.end - alert.window.start).total_seconds() == 120  # two 60 s steps
    step = {f: [(a.state, int((a.window.end.timestamp() - EPOCH.timestamp()) // 60) - 1) for a in alerts
                if a.feature == f] for f in ("amount", "channel")}
    # sliding windows ending at steps 3, 4, 5 hold drift: fire_after=2 fires at step 4; the window ending at
    # step 6 still holds step 5's drift, the one ending at step 7 is clean: resolve_after=1 resolves there
    assert step["amount"] == [("firing", 4), ("resolved", 7)]
    assert step["channel"] == [("firing", 4), ("resolved", 7)]


def test_a_bad_spec_stops_the_worker_with_the_file_and_field(settings: Settings, tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("models:\n  m1:\n    thresholds:\n      psi_warning: 0.5\n      psi_critical: 0.2\n")
    result = subprocess.run(
        [sys.executable, "-m", "driftline.streams.cli.main", "worker", "--spec", str(spec)],
        capture_output=True, text=True, env=_worker_env(settings), check=False, timeout=60,
    )
    assert result.returncode == 2
    assert f"{spec}: models.m1.thresholds: psi_warning must be below psi_critical" in result.stderr
    count = tmp_path / "count.toml"
    count.write_text('[models.m2]\nwindow = { kind = "count", size = 100 }\n')
    result = subprocess.run(
        [sys.executable, "-m", "driftline.streams.cli.main", "worker", "--spec", str(count)],
        capture_output=True, text=True, env=_worker_env(settings), check=False, timeout=60,
    )
    assert result.returncode == 2 and "model m2: 'count' windows are not supported" in result.stderr


async def test_a_drift_confined_to_one_segment_alerts_for_that_segment(settings: Settings, tmp_path: Path) -> None:
    sim = FraudSimulator(model_id=f"seg-{settings.app_id[-8:]}", seed=4)
    spec = tmp_path / "segments.yaml"
    spec.write_text(f"models:\n  {sim.model_id}:\n    segments: [region]\n    window: {{size_seconds: 60}}\n"
                    "    features:\n      amount: {kind: numeric}\n      channel: {kind: categorical}\n")
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    await store.put_reference(sim.reference())
    windows = 8

    def traffic() -> Iterator[dict[str, object]]:
        for w in range(windows):
            for region, n, shift in (("eu", 300, {"amount": 1.5} if 3 <= w < 5 else None), ("us", 1200, None)):
                for event in sim.events(window=w, n=n, shift=shift):
                    event_id = f"{event['prediction_id']}-{region}"
                    yield {**event, "prediction_id": event_id, "segment": {"region": region}}

    try:
        with WorkerProcess(settings, log_path=tmp_path / "worker.log", extra_args=["--spec", str(spec)]) as worker:
            produced = await produce(settings, traffic())
            await wait_closed(store, worker, [sim.model_id], windows)
            counted = await wait_counted(store, sim.model_id, windows, produced)
        alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in await read_topic(settings, settings.topics.alerts, 2)]
    finally:
        await store.close()
    assert counted == produced  # segment fields do not count events twice
    story = [(a.feature, a.segment, a.state) for a in alerts]
    assert ("amount", {"region": "eu"}, "firing") in story and ("amount", {"region": "eu"}, "resolved") in story
    assert all(a.segment == {"region": "eu"} or a.segment is None for a in alerts)
    assert all(a.feature == "amount" for a in alerts)


ONLINE_SPEC = """
[models.{model}]
infer = false
window = {{ size_seconds = 60 }}
features.amount = {{ kind = "numeric" }}
online = [
  {{ detector = "page_hinkley", stream = "prediction", resolve_after = 500 }},
  {{ detector = "adwin", stream = "feature", feature = "amount", params = {{ delta = 0.0001 }}, resolve_after = 500 }},
]
"""


async def test_online_detectors_on_the_score_and_a_feature_alert_when_they_change(
    settings: Settings, tmp_path: Path
) -> None:
    sim = FraudSimulator(model_id=f"online-{settings.app_id[-8:]}", seed=8)
    spec = tmp_path / "online.toml"
    spec.write_text(ONLINE_SPEC.format(model=sim.model_id))
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    await store.put_reference(sim.reference())
    windows, change_at = 8, 4
    traffic = (
        e for w in range(windows) for e in sim.events(
            window=w, n=1000, shift={"amount": 1.0} if w >= change_at else None,
            score_shift=1.5 if w >= change_at else 0.0,
        )
    )
    try:
        with WorkerProcess(settings, log_path=tmp_path / "worker.log", extra_args=["--spec", str(spec)]) as worker:
            await produce(settings, traffic)
            await wait_closed(store, worker, [sim.model_id], windows)
        alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in await read_topic(settings, settings.topics.alerts, 4)]
    finally:
        await store.close()
    online = [a for a in alerts if a.detector in {"page_hinkley", "adwin"}]
    change = EPOCH.timestamp() + change_at * 60
    for detector, feature in (("page_hinkley", "__prediction__"), ("adwin", "amount")):
        story = [(a.state, a.window.end.timestamp()) for a in online if a.detector == detector]
        assert [s for s, _ in story] == ["firing", "resolved"], story  # one change, detected once, then settled
        assert change <= story[0][1] < change + 60  # detected within the first minute after the change
        assert all(a.feature == feature for a in online if a.detector == detector)
    assert len({a.alert_id for a in alerts}) == len(alerts)
