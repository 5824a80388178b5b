"""The history a real worker keeps (one entry per closed window, the alerts and triggers it published), the
dashboard's API over it, and the report and status commands, on the real stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from driftline.config.events import DriftAlert, RetrainTrigger
from driftline.config.settings import Settings
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.stack import Endpoints
from driftline.streams.state import RedisState
from driftline.streams.state.history import RedisHistory
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess
from driftline.views.dashboard import dashboard_app

from ..support.kafka import produce, read_topic
from ..support.waiting import wait_closed
from .conftest import settings_for

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

WINDOWS, PER_WINDOW, DRIFT_AT = 10, 600, 5
DRIFTED = {"amount": 1.0, "merchant_risk_score": 0.8}


@dataclass
class Monitored:
    settings: Settings
    store: RedisWindowStore
    model_id: str
    alerts: list[DriftAlert]
    triggers: list[RetrainTrigger]
    amounts: list[int]
    """Per window, the events whose amount is a number (a few send "N/A")."""


@pytest.fixture(scope="module")
async def monitored(stack_endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Monitored]:
    """A model whose amount and merchant_risk_score drift from window 5 on, watched by a real worker."""
    settings = settings_for(stack_endpoints)
    sim = FraudSimulator(model_id=f"hist-{settings.app_id[-8:]}", seed=5)
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    await store.put_reference(sim.reference())
    events = [e for w in range(WINDOWS)
              for e in sim.events(window=w, n=PER_WINDOW, shift=DRIFTED if w >= DRIFT_AT else None)]
    log = tmp_path_factory.mktemp("history") / "worker.log"
    with WorkerProcess(settings, log_path=log, loglevel="warning") as worker:
        await produce(settings, events)
        await wait_closed(store, worker, [sim.model_id], WINDOWS)
        alerts = [decode(v, DriftAlert, max_bytes=10**6) for v in await read_topic(settings, settings.topics.alerts, 3)]
        triggers = [decode(v, RetrainTrigger, max_bytes=10**6)
                    for v in await read_topic(settings, settings.topics.retrain, 1)]
    amounts = [sum(isinstance(e["features"]["amount"], float) for e in events[w * PER_WINDOW:(w + 1) * PER_WINDOW])  # type: ignore[index]
               for w in range(WINDOWS)]
    yield Monitored(settings, store, sim.model_id, alerts, triggers, amounts)
    await store.close()


async def test_every_closed_window_is_kept_once_with_the_alerts_and_triggers_published(monitored: Monitored) -> None:
    history = RedisHistory(monitored.store.redis)
    windows = await history.windows(monitored.model_id)
    assert len(windows) == await monitored.store.closed_window_count(monitored.model_id) == WINDOWS - 1
    assert [w.window_id for w in windows] == sorted({w.window_id for w in windows})  # once each, in order
    distributions = {key for key in windows[0].features if "#" not in key}  # beside their data-quality signals
    assert distributions == set(FraudSimulator(seed=5).reference().features)  # each feature judged
    amount = [w.features["amount"] for w in windows]
    assert [p.severity for p in amount] == [None] * DRIFT_AT + ["critical"] * (WINDOWS - 1 - DRIFT_AT)
    assert [(sum(p.counts), p.n) for p in amount] == [(n, n) for n in monitored.amounts[:WINDOWS - 1]]
    assert min(monitored.amounts) < PER_WINDOW  # its strings counted apart, as type_mismatch
    kept = {a.alert_id for a in await history.alerts(monitored.model_id)}
    assert kept == {a.alert_id for a in monitored.alerts} and kept
    assert {t.trigger_id for t in await history.triggers(monitored.model_id)} == {
        t.trigger_id for t in monitored.triggers}
    last_two = await history.windows(monitored.model_id, last=2)
    assert [w.window_id for w in last_two] == [w.window_id for w in windows[-2:]]
    ranged = await history.windows(monitored.model_id, since=windows[2].end, until=windows[4].end)
    assert [w.window_id for w in ranged] == [w.window_id for w in windows[2:5]]


@pytest.fixture
async def client(monitored: Monitored) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with TestClient(TestServer(dashboard_app(RedisState(monitored.store.redis)))) as c:
        yield c


async def test_the_dashboard_api_serves_the_view_the_plots_and_bokehjs(
    monitored: Monitored, client: TestClient  # type: ignore[type-arg]
) -> None:
    models = await (await client.get("/api/models")).json()
    mine = next(m for m in models if m["model_id"] == monitored.model_id)
    assert mine["drifting"] >= 2 and mine["firing"] >= 2
    payload = await (await client.get(f"/api/models/{monitored.model_id}?features=amount")).json()
    features = payload["view"]["features"]
    flagged = {f["key"] for f in features if f["verdict"] == "DRIFT"}
    assert {"amount", "merchant_risk_score"} <= flagged <= {"amount", "merchant_risk_score", "__prediction__"}
    assert features[0]["key"] in flagged
    assert len(payload["columns"]["statistic:amount"]["statistic"]) == WINDOWS - 1
    plots = await (await client.get(f"/api/models/{monitored.model_id}/plots?feature=amount")).json()
    assert set(plots) == {"histogram", "over_time"}
    timeline = await (await client.get(f"/api/models/{monitored.model_id}/plots?feature=__timeline__")).json()
    assert "timeline" in timeline
    assert (await client.get(f"/api/models/{monitored.model_id}/plots?feature=nope")).status == 404
    assert (await client.get("/api/models/no-such-model")).status == 404
    bokeh = await client.get("/static/bokeh.min.js")
    assert bokeh.status == 200 and len(await bokeh.read()) > 1_000_000
    assert (await client.get("/static/..%2Fpage.py")).status == 404
    page = await (await client.get("/")).text()
    assert 'src="static/bokeh.min.js"' in page and "http" not in page.split("<body")[1].split("<script")[0]


def _cli(monitored: Monitored, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRIFTLINE_REDIS_URL": monitored.settings.redis.url.get_secret_value(),
           "DRIFTLINE_REDIS_CLUSTER": str(monitored.settings.redis.cluster).lower()}
    return subprocess.run([sys.executable, "-m", "driftline.streams.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


async def test_report_and_status_commands(monitored: Monitored, tmp_path: Path) -> None:
    html = _cli(monitored, "report", "--model", monitored.model_id, "--out", str(tmp_path / "r.html"))
    assert html.returncode == 0, html.stderr
    assert html.stdout.startswith(f"report: {tmp_path / 'r.html'}")
    assert 1_000_000 < (tmp_path / "r.html").stat().st_size < 5_000_000
    windows = await RedisHistory(monitored.store.redis).windows(monitored.model_id)
    as_json = _cli(monitored, "report", "--model", monitored.model_id, "--format", "json", "--out",
                   str(tmp_path / "r.json"), "--from", str(windows[3].end), "--to", str(windows[5].end))
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["view"]["windows"] == 3 and data["view"]["model_id"] == monitored.model_id
    unknown = _cli(monitored, "report", "--model", "no-such-model", "--out", str(tmp_path / "x.html"))
    assert unknown.returncode == 1 and "unknown model 'no-such-model'" in unknown.stderr
    assert not (tmp_path / "x.html").exists()
    bad_time = _cli(monitored, "report", "--model", monitored.model_id, "--from", "yesterday")
    assert bad_time.returncode == 2 and "not a time" in bad_time.stderr
    status = _cli(monitored, "status", "--color", "never")
    assert status.returncode == 0, status.stderr
    lines = [line for line in status.stdout.splitlines() if line.startswith(monitored.model_id + " ")]
    budget = [line for line in lines if " false alarms: " in line]
    assert len(budget) == 1 and "no budget set" in budget[0]  # the model's share of the fleet's false alarms
    rows = [line.split() for line in lines if line not in budget]
    assert len(rows) == len(FraudSimulator(seed=5).reference().features)  # a row per feature
    assert rows[0][1] in {"amount", "merchant_risk_score", "__prediction__"}
    assert "DRIFT" in rows[0] and "firing" in rows[0] and "\033[" not in status.stdout


async def test_every_key_the_worker_wrote_is_bounded(monitored: Monitored) -> None:
    """Each key of the model is of a kind keys.RETENTION names, and the kinds it bounds by a TTL have one."""
    from driftline.streams.state import keys

    redis = monitored.store.redis
    found: dict[str, int] = {}
    async for raw in redis.scan_iter(match=f"dl:{{{monitored.model_id}}}:*"):
        key = raw.decode()
        kind = keys.kind_of(key)
        assert kind in keys.RETENTION, f"{key}: a kind of key without a stated bound"
        if keys.RETENTION[kind].startswith("TTL"):
            assert await redis.ttl(key) > 0, f"{key} has no TTL"
        found[kind] = found.get(kind, 0) + 1
    assert {"ref", "wm", "pts", "win:<id>", "win:closed", "alerts", "latest", "hist:windows"} <= found.keys(), found
