"""The faust app, built by a factory: nothing is created or read at import time.

faust owns the lifecycle (start, signals, graceful stop) and the producer for
alerts, triggers, references and dead letters; predictions and labels are each
consumed in batches by a :class:`~driftline.streams.ingest.BatchIngest`, a
service of the app, feeding the prediction and the label processor.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from driftline.config.events import DeadLetter, DriftAlert, RetrainTrigger
from driftline.config.monitor_spec import ModelSpec
from driftline.config.settings import Settings, cache_dir
from driftline.streams.history import History
from driftline.streams.ingest import BatchIngest
from driftline.streams.kafka_client import ssl_context
from driftline.streams.label_store import LabelStore
from driftline.streams.labels import LabelProcessor
from driftline.streams.metrics import WorkerMetrics, install_metrics_page
from driftline.streams.model_lock import ModelLocks
from driftline.streams.monitors import WindowOptions
from driftline.streams.processor import PredictionProcessor
from driftline.streams.retrain import RetrainStep
from driftline.streams.sketch_store import SketchStore

log = logging.getLogger(__name__)


def create_app(
    settings: Settings, options: WindowOptions | None = None, *, specs: dict[str, ModelSpec] | None = None
) -> faust.App:
    """A faust app whose ingest service feeds prediction batches to a :class:`PredictionProcessor`."""
    # faust writes a data dir even with in-memory tables; keep it out of the working directory.
    datadir = cache_dir() / "faust" / settings.app_id
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.kafka.bootstrap_servers],
        broker_credentials=_credentials(settings),
        store="memory://",
        datadir=str(datadir),
        web_enabled=settings.metrics_port > 0,
        web_port=settings.metrics_port or 6066,
        web_bind=settings.metrics_host,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        # A worker killed with SIGKILL stays in the group until its session times out, and a restarted
        # worker waits for that: 10 s instead of faust's 60 s default.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
    )
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    topics = settings.topics
    outputs = {name: app.topic(name, **raw) for name in (topics.alerts, topics.deadletter, topics.references,
                                                          topics.retrain)}
    store = SketchStore.from_settings(settings.redis)

    metrics = WorkerMetrics()
    if settings.metrics_port:
        install_metrics_page(app, metrics)
    published = _after_publish(settings, metrics, History(store.redis, keep_events=settings.history_events))

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        delivery = await outputs[topic].send(key=key, value=value)
        await delivery  # wait for the broker's ack (acks=all) before going on
        await published(topic, value)

    options = options or WindowOptions()
    specs = dict(specs or {})
    defaults = options.default_spec()
    locks = ModelLocks(store.redis)
    prediction_processor = PredictionProcessor(
        settings, store, publish, options, specs=specs, metrics=metrics, locks=locks,
        topic_partitions=lambda: predictions.partition_count(),  # known once the consumer has its metadata
    )
    predictions = BatchIngest(
        settings, settings.topics.predictions, prediction_processor, group_suffix="predictions", metrics=metrics,
        progress_store=store.redis,
    )
    label_processor = LabelProcessor(
        settings, LabelStore(store.redis), publish, lambda model_id: specs.get(model_id, defaults),
        retrain=RetrainStep(store.redis, publish, settings.topics.retrain), locks=locks,
    )
    labels = BatchIngest(settings, settings.topics.labels, label_processor, group_suffix="labels", metrics=metrics,
                         progress_store=store.redis)

    @app.task
    async def start_ingest() -> None:
        # Runtime dependencies start once the app (and its producer) runs, and stop with it.
        await app.add_runtime_dependency(predictions)
        await app.add_runtime_dependency(labels)

    @app.on_before_shutdown.connect
    async def _close_store(app: faust.App, **kwargs: Any) -> None:
        await store.close()

    return app


def _after_publish(
    settings: Settings, metrics: WorkerMetrics, history: History
) -> Callable[[str, bytes], Awaitable[None]]:
    """What follows the broker's ack: counting by kind (dead letters by reason class, alerts by state,
    triggers), and keeping alerts and triggers in the model's history for the dashboard."""
    topics = settings.topics

    async def dead_letter(value: bytes) -> None:
        metrics.dead_letter(DeadLetter.model_validate_json(value))

    async def alert(value: bytes) -> None:
        parsed = DriftAlert.model_validate_json(value)
        metrics.alert(parsed)
        await history.record_alert(parsed, value)

    async def trigger(value: bytes) -> None:
        parsed = RetrainTrigger.model_validate_json(value)
        metrics.trigger(parsed)
        await history.record_trigger(parsed, value)

    readers = {topics.deadletter: dead_letter, topics.alerts: alert, topics.retrain: trigger}

    async def published(topic: str, value: bytes) -> None:
        reader = readers.get(topic)
        if reader is not None:
            await reader(value)

    return published


def _credentials(settings: Settings) -> Any:
    kafka = settings.kafka
    if kafka.sasl_mechanism:
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
            mechanism=kafka.sasl_mechanism,
            ssl_context=ssl_context(kafka),
        )
    context = ssl_context(kafka)
    return faust.SSLCredentials(context) if context is not None else None
