"""Throughput of the prediction path: raw aiokafka consume + JSON decode vs the driftline worker.

Produces N prediction events (20 numeric + 3 categorical features, ~600 bytes)
into Kafka, then measures in the same run
  (a) a raw aiokafka consumer reading and JSON-decoding the whole topic, and
  (b) a `driftline worker` process, from its first applied event until Redis reflects every event
      (its start-up time is reported apart),
and ends with one JSON line: {"events", "raw_eps", "worker_eps", "ratio", "peak_rss_mb"}.

    python bench/throughput.py [--events 1000000] [--reference full|numeric] [--join-labels]

The reference is the full one by default (20 numeric + 3 categorical features and the
score as ``__prediction__``: 24 binned columns); ``numeric`` profiles the 20 numeric
features only (the figure before categorical and prediction drift existed).
``--join-labels`` also keeps every prediction in Redis for the label join.

Uses DRIFTLINE_KAFKA_BOOTSTRAP / DRIFTLINE_REDIS_URL when set, else a local stack.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from driftline.config.settings import KafkaSettings, Settings, TopicSettings, load_settings
from driftline.detectors.reference import ModelReference
from driftline.streams.app.kafka import kafka_options
from driftline.streams.app.topics import ensure_topics
from driftline.streams.stack import service_endpoints
from driftline.streams.state import keys
from driftline.streams.state.client import redis_client
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

PER_WINDOW = 10_000


async def produce(settings: Settings, sim: FraudSimulator, n: int) -> tuple[int, float]:
    producer = AIOKafkaProducer(**kafka_options(settings.kafka), acks=1, linger_ms=50, max_batch_size=512 * 1024)
    await producer.start()
    size = 0
    try:
        window = 0
        sent = 0
        while sent < n:
            batch = list(sim.events(window=window, n=min(PER_WINDOW, n - sent)))
            payloads = [orjson.dumps(e) for e in batch]
            size += sum(map(len, payloads))
            futures = [await producer.send(settings.topics.predictions, p, key=sim.model_id.encode()) for p in payloads]
            await asyncio.gather(*futures)
            sent += len(batch)
            window += 1
    finally:
        await producer.stop()
    return n, size / n


async def raw_consume(settings: Settings, n: int) -> float:
    consumer = AIOKafkaConsumer(
        settings.topics.predictions, **kafka_options(settings.kafka), group_id=f"raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest", enable_auto_commit=False, max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        seen = 0
        start = time.perf_counter()
        while seen < n:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for messages in batches.values():
                for m in messages:
                    orjson.loads(m.value)
                seen += len(messages)
        return n / (time.perf_counter() - start)
    finally:
        await consumer.stop()


async def counted(settings: Settings, model_id: str) -> int:
    client = redis_client(settings.redis)
    try:
        total = 0
        async for key in client.scan_iter(match=f"{keys.bucket_counts(model_id, 0)[:-1]}*"):
            if key.endswith((b":open", b":closed")):
                continue
            total += int(await client.hget(key, "__n__") or 0)
        return total
    finally:
        await client.aclose()


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def worker_run(
    settings: Settings, model_id: str, n: int, workdir: Path, *, join_labels: bool = False
) -> tuple[float, float, float]:
    """(events/s from the first applied event to the last, start-up seconds, peak RSS MB)."""
    extra = ["--join-labels"] if join_labels else []
    with WorkerProcess(settings, log_path=workdir / "worker.log", loglevel="warning", extra_args=extra) as worker:
        launched = time.perf_counter()
        first: float | None = None
        peak = 0.0
        while True:
            await asyncio.sleep(0.2)
            peak = max(peak, rss_mb(worker.pid))
            done = await counted(settings, model_id)
            now = time.perf_counter()
            if first is None and done > 0:
                first, first_done = now, done
            if done >= n and first is not None:
                return (n - first_done) / max(now - first, 1e-9), first - launched, peak
            if not worker.alive():
                raise RuntimeError((workdir / "worker.log").read_text()[-3000:])


async def main_async(settings: Settings, n: int, *, reference: str, join_labels: bool) -> dict[str, object]:
    run = uuid.uuid4().hex[:6]
    settings = settings.model_copy(update={
        "app_id": f"bench-{run}",
        "topics": TopicSettings(**{name: f"bench{run}.{name}" for name in TopicSettings.model_fields}),
    })
    sim = FraudSimulator(model_id=f"bench-{run}")
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    if reference == "full":
        await store.put_reference(sim.reference())
    else:
        await store.put_reference(ModelReference.build(sim.model_id, sim.model_version, sim.reference_sample()))
    await store.close()
    _, avg_size = await produce(settings, sim, n)
    raw_eps = await raw_consume(settings, n)
    with tempfile.TemporaryDirectory() as tmp:
        worker_eps, startup, peak = await worker_run(settings, sim.model_id, n, Path(tmp), join_labels=join_labels)
    return {
        "events": n, "reference": reference, "join_labels": join_labels, "event_bytes": round(avg_size),
        "raw_eps": round(raw_eps), "worker_eps": round(worker_eps),
        "ratio": round(worker_eps / raw_eps, 3), "peak_rss_mb": round(peak, 1),
        "worker_startup_s": round(startup, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reference", choices=("full", "numeric"), default="full")
    parser.add_argument("--join-labels", action="store_true", help="keep predictions for the label join")
    args = parser.parse_args()
    with service_endpoints(announce=print) as endpoints:
        settings = load_settings(
            kafka=KafkaSettings(bootstrap=endpoints.kafka_bootstrap), redis=endpoints.redis_settings()
        )
        result = asyncio.run(main_async(settings, args.events, reference=args.reference, join_labels=args.join_labels))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
