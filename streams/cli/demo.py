"""``driftline demo``: a drifting fraud model watched end to end on real Kafka and Redis.

Starts the local stack (or uses ``DRIFTLINE_KAFKA_BOOTSTRAP`` / ``DRIFTLINE_REDIS_URL``),
sets the model's reference from simulated training data (numeric and categorical
features with the shapes production data has: a flag, a count, a code, nulls, an absent
feature, strings in a number, a category never seen in training, a zero-inflated amount;
and the model's probability map), starts a worker process and the dashboard, replays a
stream in which two numeric features and one categorical feature drift partway (and with
them the model's fraud probability and its predicted-class mix) while the imperfections
stay at their usual rates, then the ground-truth labels (the model is wrong more often
while the data drifts: concept drift), prints every alert as it arrives, writes the model's
HTML report and prints its path, and stops everything on exit, Ctrl-C included.

A composition root like the CLI: it starts the views' dashboard and report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from driftline.config import (
    PERFORMANCE_FEATURE,
    PREDICTION_FEATURE,
    DriftAlert,
    KafkaSettings,
    Settings,
    class_feature,
    external_services,
    load_settings,
    top_class,
)
from driftline.streams.app.kafka import kafka_options
from driftline.streams.app.topics import ensure_topics
from driftline.streams.cli.alerts_tail import format_alert
from driftline.streams.ingest.decode import decode
from driftline.streams.stack import service_endpoints
from driftline.streams.state import RedisState, State, WindowStore
from driftline.streams.testing.simulate import CLASSES, EPOCH, SHAPED_FEATURES, FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess
from driftline.views.dashboard import serve
from driftline.views.report import write_report

DRIFTED = {"amount": 1.0, "merchant_risk_score": 0.8}
CATEGORY_DRIFT = {"channel": ("pos", 0.5)}
# The fraud probability is computed from merchant_risk_score, so it drifts with it, and so does the predicted
# class mix: prediction (prior) drift.
PREDICTION_DRIFT = (PREDICTION_FEATURE, *(class_feature(c) for c in CLASSES))
EXPECTED = sorted([*DRIFTED, *CATEGORY_DRIFT, *PREDICTION_DRIFT])
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class DemoOptions:
    events_per_window: int = 1000
    windows: int = 14
    drift_at: int = 4
    drift_end: int = 9
    timeout_seconds: float = 180.0
    report: Path = Path("driftline-demo-report.html")
    dashboard_port: int = 8050
    """0: any free port."""
    hold_seconds: float = 0.0
    """Keep the stack, worker and dashboard up this long after the report (Ctrl-C ends it sooner)."""


def run_demo(options: DemoOptions) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Fresh topics answer "not leader" for a moment, which aiokafka logs as errors and retries: not news here.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        with _services() as settings, tempfile.TemporaryDirectory(prefix="driftline-demo-") as tmp:
            return asyncio.run(_run(settings, options, Path(tmp)))
    except KeyboardInterrupt:
        print("\ninterrupted: everything stopped.")
        return 130


@contextlib.contextmanager
def _services() -> Iterator[Settings]:
    with service_endpoints(announce=print) as endpoints:
        yield load_settings(
            kafka=KafkaSettings(bootstrap=endpoints.kafka_bootstrap),
            redis=endpoints.redis_settings(),
        )


async def _run(settings: Settings, options: DemoOptions, workdir: Path) -> int:
    # On shared services, a model id of this run's own keeps runs apart.
    suffix = f"-{uuid.uuid4().hex[:6]}" if external_services() else ""
    sim = FraudSimulator(model_id=f"fraud-detector{suffix}", probabilities=True)
    await ensure_topics(settings)
    state = RedisState.from_settings(settings.redis)
    store = state.windows
    try:
        reference = sim.reference()
        await store.put_reference(reference)
        kinds = [f.kind for name, f in reference.features.items() if name not in PREDICTION_DRIFT]
        print(f"reference set for {sim.model_id}: {kinds.count('numeric')} numeric features "
              f"({', '.join(SHAPED_FEATURES)} shaped as production data is), {kinds.count('categorical')} "
              f"categorical, and the predicted class and each class's probability ({', '.join(PREDICTION_DRIFT)})")
        alerts_seen: list[DriftAlert] = []
        consumer = await _alerts_consumer(settings)
        dashboard = await _start_dashboard(state, options.dashboard_port)
        with WorkerProcess(settings, log_path=workdir / "worker.log", window_seconds=WINDOW_SECONDS,
                           extra_args=["--join-labels"]) as worker:
            print(f"worker started (pid {worker.pid}); replaying {options.windows} windows "
                  f"of {options.events_per_window} events, drift in {sorted([*DRIFTED, *CATEGORY_DRIFT])} "
                  f"in windows {options.drift_at}-{options.drift_end - 1}")
            print(f"dashboard: {dashboard.url} (while the demo runs)", flush=True)
            printer = asyncio.create_task(_print_alerts(consumer, sim.model_id, alerts_seen, settings))
            events = await _produce(settings, sim, options)
            print(f"produced {len(events)} events; waiting for the worker to close the windows ...")
            done = await _wait_closed(store, sim.model_id, options.windows - 1, options.timeout_seconds)
            labels = await _produce_labels(settings, events, options)
            print(f"produced {labels} labels (wrong more often in the drifted windows); waiting for the joins ...")
            done = done and await _wait_joined(state, sim.model_id, labels, options.timeout_seconds)
            await asyncio.sleep(1.0)  # let the last alerts reach the printer
            printer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await printer
            report = await write_report(state, sim.model_id, options.report)
            print(f"report: {report.resolve()} ({report.stat().st_size / 1e6:.1f} MB, opens with no network)",
                  flush=True)
            if options.hold_seconds > 0:
                print(f"holding for {options.hold_seconds:.0f}s: the dashboard is at {dashboard.url}", flush=True)
                await asyncio.sleep(options.hold_seconds)
        await dashboard.runner.cleanup()
        await consumer.stop()
    finally:
        await state.aclose()
    firing = sorted({a.feature for a in alerts_seen if a.state == "firing"})
    resolved = sorted({a.feature for a in alerts_seen if a.state == "resolved"})
    print(f"\nfired on {firing or 'no feature'}, resolved on {resolved or 'no feature'}; "
          f"expected {EXPECTED} (the fraud probability follows merchant_risk_score), and {PERFORMANCE_FEATURE} "
          "from the labels (wrong more often while the data drifts).")
    if not done:
        print(f"the worker did not close every window in {options.timeout_seconds:.0f}s; see its log", file=sys.stderr)
        return 1
    return 0 if alerts_seen else 1


async def _alerts_consumer(settings: Settings) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(settings.topics.alerts, **kafka_options(settings.kafka), auto_offset_reset="latest")
    await consumer.start()
    await consumer.seek_to_end()
    for partition in consumer.assignment():
        await consumer.position(partition)  # pin "latest" before anything is produced
    return consumer


async def _print_alerts(
    consumer: AIOKafkaConsumer, model_id: str, seen: list[DriftAlert], settings: Settings
) -> None:
    async for message in consumer:
        alert = decode(message.value, DriftAlert, max_bytes=settings.max_event_bytes)
        if alert.model_id == model_id:
            seen.append(alert)
            print(format_alert(alert), flush=True)


async def _produce(settings: Settings, sim: FraudSimulator, options: DemoOptions) -> list[dict[str, object]]:
    producer = AIOKafkaProducer(**kafka_options(settings.kafka), acks="all", linger_ms=20)
    await producer.start()
    produced: list[dict[str, object]] = []
    try:
        for window in range(options.windows):
            drifting = options.drift_at <= window < options.drift_end
            events = list(sim.events(window=window, n=options.events_per_window, shift=DRIFTED if drifting else None,
                                     category_shift=CATEGORY_DRIFT if drifting else None))
            sends = [
                await producer.send(settings.topics.predictions, orjson.dumps(event), key=sim.model_id.encode())
                for event in events
            ]
            await asyncio.gather(*sends)
            produced += events
    finally:
        await producer.stop()
    return produced


async def _produce_labels(settings: Settings, events: list[dict[str, object]], options: DemoOptions) -> int:
    """The true class of every prediction, 30 s after it: the predicted class 92% of the time, 70% while the data
    drifts."""
    rng = np.random.default_rng(7)
    drift_start = EPOCH.timestamp() + options.drift_at * WINDOW_SECONDS
    drift_stop = EPOCH.timestamp() + options.drift_end * WINDOW_SECONDS
    producer = AIOKafkaProducer(**kafka_options(settings.kafka), acks="all", linger_ms=20)
    await producer.start()
    try:
        sends = []
        for event in events:
            ts = float(event["ts"])  # type: ignore[arg-type]
            right = rng.random() < (0.70 if drift_start <= ts < drift_stop else 0.92)
            predicted = top_class(event["prediction"])  # type: ignore[arg-type]
            truth = predicted if right else next(c for c in CLASSES if c != predicted)
            label = {"model_id": event["model_id"], "prediction_id": event["prediction_id"],
                     "label": truth, "ts": ts + 30}
            sends.append(await producer.send(settings.topics.labels, orjson.dumps(label),
                                             key=str(event["model_id"]).encode()))
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return len(events)


async def _wait_joined(state: State, model_id: str, n_labels: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        counts = await state.labels.counts(model_id, time.time())
        if counts.joined + counts.unmatched >= n_labels:
            return True
        await asyncio.sleep(0.5)
    return False


@dataclass
class _Dashboard:
    runner: web.AppRunner
    url: str


async def _start_dashboard(state: State, port: int) -> _Dashboard:
    """The dashboard on ``port``, or on any free port when it is taken (or 0)."""
    try:
        runner = await serve(state, host="127.0.0.1", port=port)
    except OSError:
        runner = await serve(state, host="127.0.0.1", port=0)
    bound = runner.addresses[0][1]
    return _Dashboard(runner, f"http://127.0.0.1:{bound}/")


async def _wait_closed(store: WindowStore, model_id: str, n_windows: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await store.closed_window_count(model_id) >= n_windows:
            return True
        await asyncio.sleep(0.5)
    return False

