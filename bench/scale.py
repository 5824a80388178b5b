"""Scale: many models on one Kafka topic of 4 partitions, 1 worker then 2 workers, single Redis and Redis Cluster.

    python bench/scale.py [--models 1000] [--features 23] [--events 200000] [--windows 2] [--partitions 4]
                          [--redis single|cluster|both] [--drift-share 0.2] [--order interleaved|grouped]
                          [--logs DIR]

Per Redis mode it starts its own local stack (Kafka + a single redis-server, or Kafka + the local Redis
Cluster: ``LocalStack(redis_cluster=True)``, whose client settings say ``cluster``), because it reads
the CPU time of the broker and Redis processes from /proc: they must be local children. Then:

1. a predictions topic with ``--partitions`` partitions; one reference per model (FraudSimulator's 20 numeric
   + 3 categorical features = 23, the first ``--features`` of them, and the score as ``__prediction__``: one
   more column), set in Redis;
2. ``--events`` events, keyed by model id, spread evenly over the models and over ``--windows`` one-minute
   event-time windows, plus one event per model in the next window so every one of the ``--windows`` closes
   (the defaults: 100 events per model and window, the worker's --min-samples, so every window is tested).
   ``--order interleaved`` (the default) sends them in event-time order across models, as live traffic
   arrives: a batch of 5,000 then touches every model; ``grouped`` sends each model's window in one run.
   ``--drift-share`` of the models drift from the middle window on (``amount``, ``merchant_risk_score``
   and with it the score, ``channel``), so alerts, their history and retrain triggers are part of the cost;
   each model has its own random stream, so the others' alerts are chance alarms
   (``alerts_undrifted_models``);
3. one worker, then (fresh state: Redis flushed, references set again, a new app id and so a new consumer
   group) two workers in one consumer group, each time measured from the moment the group is settled
   (every worker holds its share of the partitions, from the workers' ``assigned`` log lines) and Redis'
   partition progress shows applied events, until that progress reaches the end of every partition (every
   effect of every event in Redis, windows closed and alerts published included):
   - ``eps_1_worker``, ``eps_2_workers`` and ``scaling`` = eps_2_workers / eps_1_worker;
   - ``worker_rss_mb``: peak RSS (VmHWM) of the single worker (per worker of each run under ``runs``);
   - ``cpu_s_per_million_events``: CPU seconds (utime + stime from /proc/<pid>/stat, before and after the
     measured interval) per million events, per kind of process: ``worker`` is the sum over the workers,
     ``broker`` the Kafka JVM, ``redis`` the sum over the Redis processes (every cluster node). Top level:
     the 1-worker run; ``cpu_s_per_million_events_2_workers``: the 2-worker run. This machine's cores are
     shared by all of them, so events/s do not carry over to bigger machines; CPU seconds per event do;
4. after each run, with its workers stopped: Redis ``used_memory`` (INFO memory, summed over the nodes)
   minus its value after the flush, per model (``redis_mb_per_model``) and per (model, feature)
   (``redis_kb_per_model_feature``, divided by ``--features``), from the 1-worker run: the state after
   ``--windows`` windows; ``MEMORY USAGE`` (and OBJECT ENCODING) of every key of a sample of models, grouped
   by the key's kind (its suffix after ``}:``, numbers as ``<id>``), as bytes per model
   (``memory_bytes_per_model_by_kind``); ``steady_state``: what a model holds once every kind is at its
   bound (window hashes for their whole TTL, the history at its caps), from those sizes, a projection, not
   a measurement; and an inventory of every key: per kind, how many keys, how many with a TTL and how many
   without (stderr; ``keys_without_ttl`` in the JSON: each such kind must be bounded by construction, see
   KIND_BOUNDS). The counts are checked: the ``__n__`` of every window hash plus the late counters must add
   up to the events sent (``counts_verified``).

Progress goes to stderr; stdout ends with one JSON line: the single Redis's figures at the top level
(``"redis": "single"``), the cluster's under ``"cluster"`` (with ``--redis cluster`` alone, at the top level).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from redis.asyncio.cluster import RedisCluster

from driftline.config.settings import Settings, TopicSettings, load_settings
from driftline.detectors.reference import ModelReference
from driftline.streams.app.kafka import kafka_options
from driftline.streams.app.topics import ensure_topics
from driftline.streams.stack import LocalStack
from driftline.streams.state import keys, windows
from driftline.streams.testing.simulate import CATEGORICAL_FEATURES, NUMERIC_FEATURES, FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

ALL_FEATURES = (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES)
WINDOW_SECONDS = 60
MIN_SAMPLES = 100
DRIFT_SHIFT = {"amount": 1.0, "merchant_risk_score": 1.0}
DRIFT_CATEGORY = {"channel": ("app", 0.5)}
SAMPLE_MODELS = 10
REFERENCE_SEED = FraudSimulator.seed
POLL_SECONDS = 0.2
OPEN_WINDOWS = 2  # per model at any time: the one filling and the one waiting out the allowed lateness
WINDOWS_ALIVE = windows.CLOSED_BUCKET_TTL_SECONDS // WINDOW_SECONDS + OPEN_WINDOWS
"""Window hashes a busy model holds: those closed within CLOSED_BUCKET_TTL_SECONDS, and the open ones."""
CLOSED_KEPT = windows.CLOSED_KEPT  # closed ids kept per model
STALL_SECONDS = 180.0

# Why each kind of key that has no TTL stays bounded (a kind with no entry here and no TTL is flagged).
KIND_BOUNDS = {
    "ref": "one per model",
    "wm": "one field per partition",
    "pts": "one field per partition",
    "lwm": "one field per labels partition",
    "online": "fields per (online detector, partition)",
    "alerts": "one field per feature (and segment)",
    "latest": "one field per feature (and segment)",
    "firing": "one field per firing (feature, segment, detector)",
    "labels": "three fields",
    "late": "one counter",
    "retrain": "recent trigger times within the policy's window",
    "win:open": "windows not yet evaluated: those within the lateness horizon",
    "win:closed": (f"the newest closed window ids, fewer than 2 x {CLOSED_KEPT} (older ones: behind win:floor)"
                   if CLOSED_KEPT else "one member per closed window: GROWS WITHOUT BOUND"),
    "win:floor": "one number: the highest window id trimmed from win:closed",
    "hist:windows": "stream trimmed to history_windows (1000) entries",
    "hist:alerts": "sorted set trimmed to history_events (1000)",
    "hist:triggers": "sorted set trimmed to history_events (1000)",
    "progress:<group>": "one per consumer group, one field per partition",
}


# ---------------------------------------------------------------- pure helpers (tests/test_bench_scale.py)

def cpu_ticks(stat: str) -> int:
    """utime + stime, in clock ticks, from the text of /proc/<pid>/stat (the command name may hold spaces
    and parentheses: the fields are counted from the last ``)``)."""
    fields = stat.rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5); the list starts at field 3


def vm_hwm_kb(status: str) -> int:
    """Peak resident set size (VmHWM, kB) from the text of /proc/<pid>/status; 0 when absent."""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


_NUMBER = re.compile(r"(?<=:)-?\d+(?=:|$)")


def split_key(key: str) -> tuple[str | None, str]:
    """``(model id, kind)`` of a driftline key: the kind is the suffix after ``}:`` with numbers as ``<id>``.

    Keys that belong to no model (the partition progress) have model ``None``.
    """
    if key.startswith(f"{keys.PREFIX}:{{progress:"):
        return None, "progress:<group>"
    head, sep, suffix = key.partition("}:")
    if not sep or not head.startswith(f"{keys.PREFIX}:{{"):
        return None, "(not driftline)"
    model = head[len(keys.PREFIX) + 2:]
    if suffix.startswith("triggers:done:"):
        return model, "triggers:done:<group>"
    if suffix.startswith("triggers:running:"):
        return model, "triggers:running:<group>:<id>"
    return model, _NUMBER.sub("<id>", suffix)


def parse_cluster_nodes(text: str) -> list[tuple[str, int, bool]]:
    """``(host, port, is_primary)`` of each healthy node in ``CLUSTER NODES`` output."""
    nodes = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        flags = set(parts[2].split(","))
        if flags & {"fail", "fail?", "noaddr", "handshake"}:
            continue
        address = parts[1].split("@")[0].split(",")[0]
        host, _, port = address.rpartition(":")
        nodes.append((host, int(port), "master" in flags))
    return nodes


_ASSIGNED = re.compile(r"assigned \[(.*)\]")
_TOPIC_PARTITION = re.compile(r"\('([^']+)', (\d+)\)")


def latest_assignment(log_text: str, topic: str) -> frozenset[int] | None:
    """The partitions of ``topic`` in a worker log's last ``assigned [...]`` line naming it; None if none."""
    latest: frozenset[int] | None = None
    for match in _ASSIGNED.finditer(log_text):
        pairs = _TOPIC_PARTITION.findall(match.group(1))
        if any(t == topic for t, _ in pairs):
            latest = frozenset(int(p) for t, p in pairs if t == topic)
    return latest


def group_settled(assignments: Sequence[frozenset[int] | None], partitions: int) -> bool:
    """Every worker holds partitions, no two the same, all of them covered: the group is done rebalancing."""
    if not assignments or any(not a for a in assignments):
        return False
    held = [p for a in assignments for p in a or ()]
    return len(held) == len(set(held)) and set(held) == set(range(partitions))


def drifting(models: int, share: float) -> set[int]:
    """Indices of the models that drift: ``share`` of them, spread evenly."""
    if share <= 0:
        return set()
    return {i for i in range(models) if int((i + 1) * share) > int(i * share)}


def sample_models(models: int, drifting: set[int], k: int) -> list[int]:
    """``k`` model indices spread evenly, drifting ones in the population's proportion (their alerts,
    firing states and triggers take memory the others do not)."""
    k = min(k, models)
    drift = sorted(drifting)
    calm = [i for i in range(models) if i not in drifting]
    k_drift = min(round(k * len(drift) / models), len(drift)) if models else 0

    def spread(xs: list[int], m: int) -> list[int]:
        return [xs[j * len(xs) // m] for j in range(m)] if m else []

    return sorted(spread(drift, k_drift) + spread(calm, min(k - k_drift, len(calm))))


def per_million(seconds: Mapping[str, float], events: int) -> dict[str, float]:
    return {kind: round(s / events * 1e6, 2) for kind, s in seconds.items()}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    return cpu_ticks(Path(f"/proc/{pid}/stat").read_text()) / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    return vm_hwm_kb(Path(f"/proc/{pid}/status").read_text()) / 1024


def cpu_by_kind(pids: Mapping[str, Sequence[int]]) -> dict[str, float]:
    return {kind: sum(cpu_seconds(p) for p in group) for kind, group in pids.items()}


# ---------------------------------------------------------------- Redis: one server or every node of a cluster

class RedisNodes:
    """The bench's view of Redis: per-node clients (INFO, FLUSHALL, SCAN, TTL, MEMORY USAGE run on the node
    holding the keys) and one client for key commands (a cluster client in cluster mode)."""

    def __init__(self, url: str, *, cluster: bool) -> None:
        self.url = url
        self.cluster = cluster
        self.nodes: list[aioredis.Redis] = []
        self.primaries: list[aioredis.Redis] = []
        self.keys_client: aioredis.Redis | RedisCluster

    async def connect(self) -> None:
        if not self.cluster:
            client = aioredis.Redis.from_url(self.url)
            self.nodes, self.primaries, self.keys_client = [client], [client], client
            return
        seed = aioredis.Redis.from_url(self.url)
        try:
            raw = await seed.execute_command("CLUSTER", "NODES")
        finally:
            await seed.aclose()
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        for host, port, primary in parse_cluster_nodes(text):
            client = aioredis.Redis(host=host, port=port)
            self.nodes.append(client)
            if primary:
                self.primaries.append(client)
        self.keys_client = RedisCluster.from_url(self.url)

    async def close(self) -> None:
        for client in self.nodes:
            await client.aclose()
        if self.cluster:
            await self.keys_client.aclose()

    async def pids(self) -> list[int]:
        """The server processes (INFO server's process_id; the local stack runs them on this machine)."""
        return [int((await n.info("server"))["process_id"]) for n in self.nodes]

    async def used_memory(self) -> int:
        return sum([int((await n.info("memory"))["used_memory"]) for n in self.nodes])

    async def flush(self) -> None:
        for node in self.primaries:
            await node.flushall()

    async def put_references(self, references: Sequence[ModelReference]) -> None:
        for start in range(0, len(references), 200):
            async with self.keys_client.pipeline(transaction=False) as pipe:  # per node in a cluster
                for r in references[start:start + 200]:
                    pipe.set(keys.reference(r.model_id), r.to_json())
                await pipe.execute()

    async def progress(self, group: str, topic: str) -> dict[int, int]:
        raw = await self.keys_client.hgetall(keys.partition_progress(group))
        out = {}
        for field, value in raw.items():
            name, _, partition = field.decode().rpartition(":")
            if name == topic:
                out[int(partition)] = int(value)
        return out


@dataclasses.dataclass
class KindStats:
    keys: int = 0
    with_ttl: int = 0
    without_ttl: int = 0


@dataclasses.dataclass
class KeyScan:
    kinds: dict[str, KindStats]
    sample_sizes: dict[str, list[int]]      # kind -> MEMORY USAGE of each of the sampled models' keys
    sample_elements: dict[str, list[int]]   # kind -> fields / members / entries of each of those keys
    sample_encodings: dict[str, Counter[str]]  # kind -> OBJECT ENCODING of those keys
    sampled_models: int
    events_in_windows: int
    late_events: int
    alerts: int
    alerts_undrifted: int                # of them, alerts of the models whose data does not drift
    windows_closed: int


_LENGTH = {b"hash": "hlen", b"set": "scard", b"zset": "zcard", b"stream": "xlen", b"list": "llen", b"string": "strlen"}


async def scan_keys(redis: RedisNodes, sample: set[str], drifting: set[str]) -> KeyScan:
    """Every key on every primary: kind, TTL; window counts, late counters, alerts kept, windows closed;
    MEMORY USAGE and element counts of the sampled models' keys."""
    result = KeyScan({}, {}, {}, {}, len(sample), 0, 0, 0, 0, 0)
    for node in redis.primaries:
        batch: list[bytes] = []
        async for key in node.scan_iter(count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await _scan_batch(node, batch, sample, drifting, result)
                batch = []
        if batch:
            await _scan_batch(node, batch, sample, drifting, result)
    return result


async def _scan_batch(node: aioredis.Redis, batch: list[bytes], sample: set[str], drifting: set[str],
                      result: KeyScan) -> None:
    async with node.pipeline(transaction=False) as pipe:
        extras: list[tuple[int, str]] = []
        for i, raw in enumerate(batch):
            pipe.ttl(raw)
            _, kind = split_key(raw.decode())
            if kind == "win:<id>":
                pipe.hget(raw, "__n__")
            elif kind in {"late", "hist:alerts", "win:closed"}:
                {"late": pipe.get, "hist:alerts": pipe.zcard, "win:closed": pipe.scard}[kind](raw)
            else:
                continue
            extras.append((i, kind))
        values = await pipe.execute()
    ttls, pos = [], 0
    extra_values: dict[int, Any] = {}
    extra_at = dict(extras)
    for i in range(len(batch)):
        ttls.append(values[pos])
        pos += 1
        if i in extra_at:
            extra_values[i] = values[pos]
            pos += 1
    for i, raw in enumerate(batch):
        model, kind = split_key(raw.decode())
        stats = result.kinds.setdefault(kind, KindStats())
        stats.keys += 1
        if ttls[i] > 0:
            stats.with_ttl += 1
        elif ttls[i] == -1:  # -2: gone since the SCAN
            stats.without_ttl += 1
        value = int(extra_values.get(i) or 0)
        if kind == "win:<id>":
            result.events_in_windows += value
        elif kind == "late":
            result.late_events += value
        elif kind == "hist:alerts":
            result.alerts += value
            result.alerts_undrifted += value if model not in drifting else 0
        elif kind == "win:closed":
            result.windows_closed += value
        if model in sample:
            usage = int(await node.memory_usage(raw, samples=0) or 0)
            length = _LENGTH.get(await node.type(raw))
            elements = int(await getattr(node, length)(raw)) if length else 0
            encoding = await node.object("ENCODING", raw)
            result.sample_sizes.setdefault(kind, []).append(usage)
            result.sample_elements.setdefault(kind, []).append(elements)
            result.sample_encodings.setdefault(kind, Counter())[
                encoding.decode() if isinstance(encoding, bytes) else str(encoding)] += 1


def inventory_table(scan: KeyScan, models: int) -> str:
    n = max(scan.sampled_models, 1)
    per_model = {kind: sum(sizes) / n for kind, sizes in scan.sample_sizes.items()}
    lines = [f"{'kind':<22} {'keys':>7} {'TTL>0':>7} {'no TTL':>7} {'B/model':>8} {'elems/key':>9} "
             f"{'encoding':<10} bounded by"]
    for kind, stats in sorted(scan.kinds.items(), key=lambda kv: -per_model.get(kv[0], 0)):
        bound = "TTL" if stats.without_ttl == 0 else KIND_BOUNDS.get(kind, "UNKNOWN: no TTL and no known bound")
        elements = scan.sample_elements.get(kind, [])
        encoding = scan.sample_encodings.get(kind, Counter()).most_common(1)
        lines.append(
            f"{kind:<22} {stats.keys:>7} {stats.with_ttl:>7} {stats.without_ttl:>7} {per_model.get(kind, 0):>8.0f} "
            f"{sum(elements) / max(len(elements), 1):>9.1f} {encoding[0][0] if encoding else '':<10} {bound}"
        )
    total = sum(per_model.values())
    lines.append(f"MEMORY USAGE of the keys of {scan.sampled_models} sampled models: {total:.0f} B per model; "
                 f"x {models} models = {total * models / 2**20:.1f} MB")
    return "\n".join(lines)


def steady_state(scan: KeyScan, *, features: int, windows_alive: int, history_windows: int,
                 history_events: int) -> dict[str, float]:
    """A model's state once every bounded key is at its bound: ``windows_alive`` window hashes (closed ones
    live CLOSED_BUCKET_TTL_SECONDS), ``history_windows`` history entries, ``history_events`` alerts and
    triggers kept; the other kinds as measured. Per-key and per-entry sizes are the sampled models' (a window
    hash: the median, the closing window's hash holds one event)."""
    n = max(scan.sampled_models, 1)
    measured = {kind: sum(sizes) / n for kind, sizes in scan.sample_sizes.items()}
    windows = sorted(scan.sample_sizes.get("win:<id>", [0]))
    window_bytes = windows[len(windows) // 2]

    def per_entry(kind: str) -> float:
        return sum(scan.sample_sizes.get(kind, [0])) / max(sum(scan.sample_elements.get(kind, [0])), 1)

    projected = {
        **measured,
        "win:<id>": window_bytes * windows_alive,
        "hist:windows": per_entry("hist:windows") * history_windows,
        "hist:alerts": per_entry("hist:alerts") * history_events,
        "hist:triggers": per_entry("hist:triggers") * history_events,
    }
    total = sum(projected.values())
    return {
        "windows_alive": windows_alive,
        "window_hash_bytes": window_bytes,
        "history_entry_bytes": round(per_entry("hist:windows")),
        "alert_entry_bytes": round(per_entry("hist:alerts")),
        "mb_per_model": round(total / 2**20, 2),
        "kb_per_model_feature": round(total / 1024 / features, 1),
    }


# ---------------------------------------------------------------- the workload

@dataclasses.dataclass(frozen=True)
class Workload:
    models: tuple[str, ...]
    drifting: frozenset[int]
    features: tuple[str, ...]
    windows: int
    per_window: int
    order: str

    @property
    def events(self) -> int:
        return len(self.models) * (self.windows * self.per_window + 1)

    def references(self) -> list[ModelReference]:
        base = FraudSimulator(seed=REFERENCE_SEED).reference()
        columns = {name: base.features[name] for name in base.features if name in self.features
                   or name not in ALL_FEATURES}  # the score (__prediction__) is always profiled
        return [dataclasses.replace(base, model_id=m, features=columns) for m in self.models]

    def simulator(self, i: int) -> FraudSimulator:
        """Model i's traffic: its own random stream (seed), on the one reference every model shares.

        FraudSimulator's seed also draws its feature scales, which the reference is built on: they are set
        back to the reference's, so each model's data is independent of the others' yet undrifted
        (identical data everywhere would make one model's chance alarm every model's).
        """
        sim = FraudSimulator(model_id=self.models[i], seed=REFERENCE_SEED + 1 + i)
        object.__setattr__(sim, "_scales", FraudSimulator(seed=REFERENCE_SEED)._scales)
        return sim

    def window_events(self, window: int) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) of one event-time window's events (the extra window: one event per model)."""
        n = self.per_window if window < self.windows else 1
        drifts = window >= self.windows // 2
        per_model = []
        for i, model in enumerate(self.models):
            sim = self.simulator(i)
            shifted = drifts and i in self.drifting
            events = sim.events(window=window, n=n, window_seconds=WINDOW_SECONDS,
                                shift=DRIFT_SHIFT if shifted else None,
                                category_shift=DRIFT_CATEGORY if shifted else None)
            per_model.append([(model.encode(), orjson.dumps(e)) for e in events])
        if self.order == "grouped":
            for rows in per_model:
                yield from rows
        else:  # event-time order: every model's i-th event has the same time
            for row in zip(*per_model, strict=True):
                yield from row


async def produce(settings: Settings, workload: Workload) -> dict[int, int]:
    """Send the workload; the end offset of every partition."""
    producer = AIOKafkaProducer(**kafka_options(settings.kafka), acks=1, linger_ms=50, max_batch_size=512 * 1024)
    await producer.start()
    began, sent = time.perf_counter(), 0
    try:
        for window in range(workload.windows + 1):
            futures = [await producer.send(settings.topics.predictions, value, key=key)
                       for key, value in workload.window_events(window)]
            await asyncio.gather(*futures)
            sent += len(futures)
            log(f"  produced window {window}: {sent} events ({sent / (time.perf_counter() - began):.0f}/s)")
        partitions = await producer.partitions_for(settings.topics.predictions)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(**kafka_options(settings.kafka))
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(settings.topics.predictions, p) for p in partitions])
        begins = await consumer.beginning_offsets(list(ends))
    finally:
        await consumer.stop()
    if sum(ends.values()) - sum(begins.values()) != workload.events or any(begins.values()):
        raise RuntimeError(f"the topic holds {sum(ends.values()) - sum(begins.values())} events, "
                           f"{workload.events} were sent")
    return {tp.partition: offset for tp, offset in ends.items()}


# ---------------------------------------------------------------- one run: N workers from an empty Redis

@dataclasses.dataclass
class Context:
    settings: Settings
    redis: RedisNodes
    broker_pid: int
    workload: Workload
    references: list[ModelReference]
    ends: dict[int, int]
    workdir: Path


async def run_workers(ctx: Context, workers: int) -> dict[str, Any]:
    app_id = f"scale-{uuid.uuid4().hex[:6]}-{workers}w"
    settings = ctx.settings.model_copy(update={"app_id": app_id})
    group, topic = f"{app_id}.predictions", settings.topics.predictions
    await ctx.redis.flush()
    memory_before = await ctx.redis.used_memory()
    await ctx.redis.put_references(ctx.references)
    total = sum(ctx.ends.values())
    redis_pids = await ctx.redis.pids()
    log(f"[{workers} worker(s)] app id {app_id}: {total} events on {len(ctx.ends)} partitions")
    with contextlib.ExitStack() as stack:
        procs = []
        for i in range(workers):
            log_path = ctx.workdir / f"{app_id}-worker{i}.log"
            procs.append(stack.enter_context(WorkerProcess(
                settings, log_path=log_path, window_seconds=WINDOW_SECONDS, min_samples=MIN_SAMPLES,
                loglevel="info")))
        pids = {"worker": [p.pid for p in procs], "broker": [ctx.broker_pid], "redis": redis_pids}
        launched = time.perf_counter()
        first: tuple[float, int, dict[str, float]] | None = None
        last_done, last_change, last_log = -1, launched, launched
        while True:
            await asyncio.sleep(POLL_SECONDS)
            for proc in procs:
                if not proc.alive():
                    raise RuntimeError(f"a worker exited; {proc.log_path} ends:\n{proc.log_tail()}")
            progress = await ctx.redis.progress(group, topic)
            done = sum(progress.values())
            now = time.perf_counter()
            if done != last_done:
                last_done, last_change = done, now
            elif now - last_change > STALL_SECONDS:
                raise RuntimeError(f"no progress for {STALL_SECONDS:.0f}s at {done}/{total}; "
                                   f"{procs[0].log_path} ends:\n{procs[0].log_tail()}")
            if first is None and done >= total:
                raise RuntimeError(f"every event was in before the group of {workers} worker(s) settled: nothing "
                                   "left to measure; raise --events")
            if first is None and done > 0:
                assignments = [latest_assignment(p.log_path.read_text(errors="replace"), topic) for p in procs]
                if group_settled(assignments, len(ctx.ends)):
                    first = (now, done, cpu_by_kind(pids))
                    log(f"  group settled {now - launched:.1f}s after launch "
                        f"({', '.join(str(sorted(a or ())) for a in assignments)}), {done} events already in")
            if first is not None and all(progress.get(p, 0) >= end for p, end in ctx.ends.items()):
                cpu_after = cpu_by_kind(pids)
                break
            if first is not None and now - last_log >= 5:
                last_log = now
                log(f"  {done}/{total} events, {(done - first[1]) / max(now - first[0], 1e-9):.0f}/s")
        started, done_at_start, cpu_before = first
        seconds = now - started
        measured = total - done_at_start
        rss = [round(peak_rss_mb(p.pid), 1) for p in procs]
    used = await ctx.redis.used_memory()  # workers stopped: no client buffers of theirs
    cpu = {kind: cpu_after[kind] - cpu_before[kind] for kind in cpu_before}
    result = {
        "workers": workers,
        "events_measured": measured,
        "seconds": round(seconds, 2),
        "eps": round(measured / seconds),
        "settled_after_s": round(started - launched, 1),
        "worker_peak_rss_mb": rss,
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_s_per_million_events": per_million(cpu, measured),
        "redis_used_memory_delta_mb": round((used - memory_before) / 2**20, 2),
    }
    log(f"  {measured} events in {seconds:.1f}s: {result['eps']} events/s; CPU s {result['cpu_s']}; "
        f"peak RSS {rss} MB")
    return result


async def redis_state(ctx: Context, memory_delta_mb: float) -> dict[str, Any]:
    """Memory and keys of the state the last run left (its workers stopped)."""
    w = ctx.workload
    sample = {w.models[i] for i in sample_models(len(w.models), set(w.drifting), SAMPLE_MODELS)}
    scan = await scan_keys(ctx.redis, sample, {w.models[i] for i in w.drifting})
    log(inventory_table(scan, len(w.models)))
    n_features = len(w.features)
    per_model_mb = memory_delta_mb / len(w.models)
    n = max(len(sample), 1)
    return {
        "redis_mb_per_model": round(per_model_mb, 4),
        "redis_kb_per_model_feature": round(per_model_mb * 1024 / n_features, 2),
        "memory_bytes_per_model_by_kind": {k: round(sum(v) / n) for k, v in
                                           sorted(scan.sample_sizes.items(), key=lambda kv: -sum(kv[1]))},
        "steady_state": steady_state(
            scan, features=n_features, windows_alive=WINDOWS_ALIVE,
            history_windows=ctx.settings.history_windows, history_events=ctx.settings.history_events),
        "keys_without_ttl": {k: s.without_ttl for k, s in sorted(scan.kinds.items()) if s.without_ttl},
        "keys_with_ttl": {k: s.with_ttl for k, s in sorted(scan.kinds.items()) if s.with_ttl},
        "alerts": scan.alerts,
        "alerts_undrifted_models": scan.alerts_undrifted,
        "windows_closed": scan.windows_closed,
        "late_events": scan.late_events,
        "counts_verified": scan.events_in_windows + scan.late_events == w.events,
        "events_counted": scan.events_in_windows + scan.late_events,
    }


# ---------------------------------------------------------------- one Redis mode

def run_mode(workload: Workload, *, cluster: bool, partitions: int, logs: Path | None) -> dict[str, Any]:
    mode = "cluster" if cluster else "single"
    log(f"== Redis {mode}: starting a local stack ...")
    began = time.monotonic()
    stack = LocalStack(redis_cluster=True) if cluster else LocalStack()
    with stack, tempfile.TemporaryDirectory(prefix="driftline-scale-") as tmp:
        workdir = Path(tmp) if logs is None else logs / mode
        workdir.mkdir(parents=True, exist_ok=True)
        kafka_settings, redis_settings = stack.client_settings()  # cluster=True for the cluster: the workers
        # get DRIFTLINE_REDIS_CLUSTER from these settings (WorkerProcess)
        run = uuid.uuid4().hex[:6]
        settings = load_settings(
            kafka=kafka_settings, redis=redis_settings,
            topics=TopicSettings(**{name: f"scale{run}.{name}" for name in TopicSettings.model_fields}),
        )
        url = redis_settings.url.get_secret_value()
        log(f"   up in {time.monotonic() - began:.1f}s: Kafka {kafka_settings.bootstrap}, Redis {url}")
        broker_pid = stack.kafka.pid
        assert broker_pid is not None
        return asyncio.run(_run_mode(settings, url, broker_pid, workload, mode, partitions, workdir))


async def _run_mode(settings: Settings, url: str, broker_pid: int, workload: Workload, mode: str,
                    partitions: int, workdir: Path) -> dict[str, Any]:
    redis = RedisNodes(url, cluster=mode == "cluster")
    await redis.connect()
    try:
        log(f"   Redis: {len(redis.nodes)} node(s), {len(redis.primaries)} primary")
        await ensure_topics(settings, partitions=partitions)
        log(f"   producing {workload.events} events ({len(workload.models)} models x {workload.windows} windows x "
            f"{workload.per_window} + 1 closing event per model, {workload.order}) ...")
        ends = await produce(settings, workload)
        ctx = Context(settings, redis, broker_pid, workload, workload.references(), ends, workdir)
        one = await run_workers(ctx, 1)
        log("  Redis state after the 1-worker run (keys of every model; bytes of a sample of models):")
        state = await redis_state(ctx, one["redis_used_memory_delta_mb"])
        two = await run_workers(ctx, 2)
        log("  Redis state after the 2-worker run:")
        state_two = await redis_state(ctx, two["redis_used_memory_delta_mb"])
    finally:
        await redis.close()
    return {
        "redis": mode,
        "models": len(workload.models),
        "features": len(workload.features),
        "events": workload.events,
        "partitions": partitions,
        "windows": workload.windows,
        "events_per_model_window": workload.per_window,
        "order": workload.order,
        "drifting_models": len(workload.drifting),
        "redis_mb_per_model": state["redis_mb_per_model"],
        "redis_kb_per_model_feature": state["redis_kb_per_model_feature"],
        "worker_rss_mb": one["worker_peak_rss_mb"][0],
        "eps_1_worker": one["eps"],
        "eps_2_workers": two["eps"],
        "scaling": round(two["eps"] / one["eps"], 3),
        "cpu_s_per_million_events": one["cpu_s_per_million_events"],
        "cpu_s_per_million_events_2_workers": two["cpu_s_per_million_events"],
        "keys_without_ttl": state["keys_without_ttl"],
        "memory_bytes_per_model_by_kind": state["memory_bytes_per_model_by_kind"],
        "steady_state": state["steady_state"],
        "alerts": state["alerts"],
        "alerts_undrifted_models": state["alerts_undrifted_models"],
        "windows_closed": state["windows_closed"],
        "late_events": state["late_events"],
        "counts_verified": state["counts_verified"] and state_two["counts_verified"],
        "runs": [one, two],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--features", type=int, default=len(ALL_FEATURES),
                        help=f"the first N of the simulator's {len(ALL_FEATURES)} features are profiled")
    parser.add_argument("--events", type=int, default=200_000,
                        help="~80 s of one worker's time here with the other defaults (~2,400 events/s)")
    parser.add_argument("--windows", type=int, default=2, help="event-time windows (one minute each) that close")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--redis", choices=("single", "cluster", "both"), default="both")
    parser.add_argument("--drift-share", type=float, default=0.2, help="share of the models that drift")
    parser.add_argument("--order", choices=("interleaved", "grouped"), default="interleaved")
    parser.add_argument("--logs", type=Path, help="keep the workers' logs in this folder (default: a temporary one)")
    args = parser.parse_args()
    if not 1 <= args.features <= len(ALL_FEATURES):
        parser.error(f"--features: 1 to {len(ALL_FEATURES)} (FraudSimulator's numeric and categorical features)")
    per_window = args.events // (args.models * args.windows)
    if per_window < 1:
        parser.error("--events: at least one event per model per window")
    if per_window < MIN_SAMPLES:
        log(f"warning: {per_window} events per model and window, fewer than the worker's --min-samples "
            f"{MIN_SAMPLES}: the windows close, but their tests say nothing")
    workload = Workload(
        models=tuple(f"model-{i:04d}" for i in range(args.models)),
        drifting=frozenset(drifting(args.models, args.drift_share)),
        features=ALL_FEATURES[:args.features],
        windows=args.windows, per_window=per_window, order=args.order,
    )
    result: dict[str, Any] = {}
    if args.redis in ("single", "both"):
        result = run_mode(workload, cluster=False, partitions=args.partitions, logs=args.logs)
    if args.redis in ("cluster", "both"):
        cluster = run_mode(workload, cluster=True, partitions=args.partitions, logs=args.logs)
        if result:
            result["cluster"] = cluster
        else:
            result = cluster
    print(json.dumps(result))


if __name__ == "__main__":
    main()
