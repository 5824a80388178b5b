"""driftline on a real Redis Cluster: 3 masters from the machine's redis-server, slots spread by
``redis-cli --cluster create``; a real ``driftline worker`` watching 300 models whose keys land on
every master, with exact counts, the drifting models alerting, the calm ones not, and not one
cross-slot or cluster error in its log. ``driftline stack up --redis-cluster`` too."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from driftline.config import SIGNAL_DETECTORS
from driftline.config.events import DriftAlert
from driftline.detectors.reference import ModelReference
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.stack import Endpoints
from driftline.streams.state import RedisState, keys
from driftline.streams.state.client import redis_client
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import EPOCH, NUMERIC_FEATURES, FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess
from driftline.views.load import load_model_view
from driftline.views.status import status_lines

from ..support.kafka import produce, read_topic
from ..support.waiting import wait_until
from .conftest import settings_for, stack_cli_env

pytestmark = pytest.mark.integration

MODELS, WINDOWS, PER_WINDOW, CHUNK = 300, 4, 200, 20
FEATURES = ("amount", "account_age_days")
SHIFT_SDS = 3.0  # drifting models: amount moved by 3 of its standard deviations, in every window
CLUSTER_TROUBLE = re.compile(r"CROSSSLOT|CrossSlot|MOVED|ASK |TRYAGAIN|CLUSTERDOWN|ClusterDown|SlotNotCovered|"
                             r"RedisCluster|Traceback|failed \(attempt")


@pytest.fixture
async def cluster(cluster_endpoints: Endpoints) -> AsyncIterator[RedisCluster]:
    client = redis_client(cluster_endpoints.redis_settings())
    assert isinstance(client, RedisCluster)
    await client.initialize()
    yield client
    await client.aclose()


async def test_the_cluster_has_three_masters_that_share_every_slot(cluster: RedisCluster) -> None:
    primaries = cluster.get_primaries()
    owners = {nodes[0].name for nodes in cluster.nodes_manager.slots_cache.values()}
    assert len(primaries) == 3 and owners == {p.name for p in primaries}
    assert len(cluster.nodes_manager.slots_cache) == 16384  # every slot has its master
    infos = await cluster.cluster_info(target_nodes=RedisCluster.PRIMARIES)
    assert {(i["cluster_state"], int(i["cluster_size"])) for i in infos.values()} == {("ok", 3)}


def models_of(run: str) -> list[str]:
    return [f"cl-{run}-{i}" for i in range(MODELS)]


def drifting(model_id: str) -> bool:
    return int(model_id.rsplit("-", 1)[1]) % 3 == 0


def events_of(model_id: str, sim: FraudSimulator, window: int) -> list[dict[str, object]]:
    """The model's ``PER_WINDOW`` events of one window (two features), the drifting ones' amount shifted."""
    rng = np.random.default_rng([int(model_id.rsplit("-", 1)[1]), window])
    shift = {"amount": SHIFT_SDS} if drifting(model_id) else None
    values = sim.numeric_sample(PER_WINDOW, rng, shift)
    columns = [NUMERIC_FEATURES.index(f) for f in FEATURES]
    start = EPOCH.timestamp() + 60 * window
    return [{
        "schema_version": 1, "model_id": model_id, "model_version": "v1", "prediction_id": f"{model_id}-{window}-{i}",
        "ts": start + 60 * i / PER_WINDOW, "features": {f: float(values[i, c]) for f, c in zip(FEATURES, columns,
                                                                                                strict=True)},
        "prediction": 0.5,
    } for i in range(PER_WINDOW)]


def traffic(models: list[str], sim: FraudSimulator) -> Iterator[dict[str, object]]:
    """Window by window, the models interleaved in chunks, so each batch the worker reads spans many slots."""
    for window in range(WINDOWS):
        per_model = {m: events_of(m, sim, window) for m in models}
        for chunk in range(0, PER_WINDOW, CHUNK):
            for m in models:
                yield from per_model[m][chunk:chunk + CHUNK]


def keys_per_master(cluster: RedisCluster, run: str) -> dict[str, set[str]]:
    """Per master (asked directly, not through the cluster client): the models whose keys it holds."""
    held: dict[str, set[str]] = {}
    for node in cluster.get_primaries():
        direct = redis.Redis(host=node.host, port=node.port)
        try:
            found = {k.decode() for k in direct.scan_iter(match=f"dl:{{cl-{run}-*", count=1000)}
        finally:
            direct.close()
        held[node.name] = {k[len("dl:{"):k.index("}")] for k in found}
        assert all(key_slot(k.encode()) == key_slot(k[k.index("{") + 1:k.index("}")].encode()) for k in found)
    return held


async def state(store: RedisWindowStore, models: list[str]) -> tuple[list[list[int]], list[int]]:
    """Per model: its events counted per window, and its closed windows; one pipeline over every slot
    (the cluster client sends each master its share)."""
    first = int(EPOCH.timestamp()) // 60
    async with store.redis.pipeline(transaction=False) as pipe:
        for m in models:
            for w in range(WINDOWS):
                pipe.hget(keys.bucket_counts(m, first + w), "__n__")
            pipe.scard(keys.closed_windows(m))
        replies = await pipe.execute()
    rows = [replies[i * (WINDOWS + 1):(i + 1) * (WINDOWS + 1)] for i in range(len(models))]
    return [[int(n or 0) for n in row[:WINDOWS]] for row in rows], [int(row[WINDOWS]) for row in rows]


async def test_three_hundred_models_over_every_slot_are_counted_exactly_and_alert_right(
    cluster_endpoints: Endpoints, cluster: RedisCluster, tmp_path: Path
) -> None:
    settings = settings_for(cluster_endpoints)
    run = settings.app_id[-8:]
    models = models_of(run)
    masters = {cluster.nodes_manager.get_node_from_slot(key_slot(m.encode())).name for m in models}
    assert len(masters) == 3  # the models' hash tags land on every master
    sim = FraudSimulator(seed=11)
    values = sim.numeric_sample(20_000, np.random.default_rng(12))
    template = ModelReference.build("template", "v1", {f: values[:, NUMERIC_FEATURES.index(f)] for f in FEATURES})
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    log = tmp_path / "worker.log"
    try:
        for m in models:
            await store.put_reference(dataclasses.replace(template, model_id=m))
        worker = WorkerProcess(settings, log_path=log, window_seconds=60, min_samples=100,
                               extra_args=["--fire-after", "2"])
        with worker:
            produced = await produce(settings, traffic(models, sim))

            async def done() -> bool:
                assert worker.alive(), worker.log_tail()
                counts, closed = await state(store, models)
                return sum(map(sum, counts)) >= produced and min(closed) >= WINDOWS - 1

            began = time.monotonic()
            await wait_until(done, 240, "every event counted and every finished window closed")
            took = time.monotonic() - began
            await asyncio.sleep(2.0)  # anything more would be a double count: give it time to show
        counts, closed = await state(store, models)
        assert produced == MODELS * WINDOWS * PER_WINDOW
        assert counts == [[PER_WINDOW] * WINDOWS] * MODELS  # every event once, in its model's window
        assert closed == [WINDOWS - 1] * MODELS
        assert sum([await store.late_count(m) for m in models]) == 0

        alerts = [decode(v, DriftAlert, max_bytes=10**6)
                  for v in await read_topic(settings, settings.topics.alerts, MODELS // 3)]
        alerted = {a.model_id for a in alerts}
        assert alerted == {m for m in models if drifting(m)}  # every drifting model, and only those
        drift = [a for a in alerts if a.detector not in SIGNAL_DETECTORS]
        assert len({a.alert_id for a in drift}) == len(alerted)  # one drift alert each: fired, never resolved
        assert {(a.feature, a.state, a.severity) for a in alerts} == {("amount", "firing", "critical")}
        assert {a.detector for a in alerts if a not in drift} <= {"out_of_range"}  # shifted beyond the range too
        assert {a.window.start.timestamp() for a in alerts} == {EPOCH.timestamp() + 60}  # the 2nd drifting window

        held = keys_per_master(cluster, run)
        assert sorted(len(h) for h in held.values())[0] > MODELS // 6  # every master holds a share of the models
        assert sum(len(h) for h in held.values()) == MODELS  # each model's keys on one master only

        lines = await status_lines(RedisState(store.redis))
        listed = {line.split()[0] for line in lines if line.startswith(f"cl-{run}-")}
        assert listed == set(models)  # SCAN over every master finds every model
        view = await load_model_view(RedisState(store.redis), models[0], last=200)
        first = [a for a in alerts if a.model_id == models[0]]
        assert (view.windows, len(view.alerts)) == (WINDOWS - 1, len(first))  # the dashboard's view
        assert {key.split("#")[0] for key in view.drifted} == {"amount"}
    finally:
        await store.close()
    trouble = sorted({m.group(0) for m in CLUSTER_TROUBLE.finditer(log.read_text())})
    assert trouble == [], log.read_text()[-5000:]
    print(f"\n{MODELS} models, {produced} events, windows closed {took:.1f}s after the last event was produced")


def running(pid: int) -> bool:
    """The process exists and is not a zombie (detached services are reaped by whoever adopted them)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_cli_stack_up_redis_cluster_exports_it_and_down_stops_every_master(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    env = stack_cli_env(cache)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "driftline.streams.cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=180, check=False)

    refused = cli("stack", "up", "--redis-cluster", "--secure")
    assert refused.returncode == 2 and "--secure" in refused.stderr and not (cache / "stack").exists()
    up = cli("stack", "up", "--redis-cluster")
    try:
        assert up.returncode == 0, up.stderr
        exports = dict(line.removeprefix("export ").split("=", 1) for line in up.stdout.splitlines())
        assert exports["DRIFTLINE_REDIS_CLUSTER"] == "true" and set(exports) == {
            "DRIFTLINE_KAFKA_BOOTSTRAP", "DRIFTLINE_REDIS_URL", "DRIFTLINE_REDIS_CLUSTER"}
        client = redis.RedisCluster.from_url(exports["DRIFTLINE_REDIS_URL"])
        assert len(client.get_primaries()) == 3  # the command has exited; the masters have not
        client.close()
        status = cli("stack", "status")
        assert status.returncode == 0 and status.stdout.count(" up ") == 4, status.stdout  # Kafka + 3 masters
        env.update(exports)  # what `eval "$(driftline stack up --redis-cluster)"` does
        assert '"cluster": true' in cli("config", "show").stdout
        for name in exports:
            del env[name]
        assert cli("stack", "up", "--redis-cluster").stdout == up.stdout  # already up: nothing new started
        assert cli("stack", "up").returncode == 1  # up, but as a cluster: says so instead of pretending
        pids = [int(p) for p in re.findall(r"pid (\d+)", status.stdout)]
    finally:
        down = cli("stack", "down")
    assert down.returncode == 0, down.stderr
    assert down.stderr.count("stopped") >= 4
    assert cli("stack", "status").returncode == 1
    assert pids and not any(running(pid) for pid in pids)
    assert not (cache / "stack").exists()
