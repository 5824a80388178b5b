"""The faust app, built by a factory: nothing is created or read at import time.

faust owns the lifecycle (start, signals, graceful stop) and the producer for
alerts, triggers, references and dead letters; predictions and labels are each
consumed in batches by a :class:`~driftline.streams.ingest.consumer.BatchIngest`, a
service of the app, feeding the prediction and the label processor. Everything they publish goes
through one :class:`~driftline.streams.pipeline.outputs.Outputs`, which after each ack counts it
(metrics) and keeps alerts and triggers in the model's history.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from driftline.config import DeadLetter, DriftAlert, ModelSpec, RetrainTrigger, Settings, cache_dir
from driftline.streams.app.kafka import ssl_context
from driftline.streams.app.metrics import WorkerMetrics, install_metrics_page
from driftline.streams.ingest.consumer import BatchIngest
from driftline.streams.pipeline.labels import LabelProcessor
from driftline.streams.pipeline.model_setup import WorkerDefaults
from driftline.streams.pipeline.outputs import Outputs
from driftline.streams.pipeline.performance import PerformanceJudge
from driftline.streams.pipeline.predictions import PredictionProcessor
from driftline.streams.pipeline.retrain import RetrainStep
from driftline.streams.state import HistoryStore, RedisState

log = logging.getLogger(__name__)


def create_app(
    settings: Settings, defaults: WorkerDefaults | None = None, *, specs: dict[str, ModelSpec] | None = None
) -> faust.App:
    """A faust app whose ingest services feed prediction and label batches to their processors."""
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
    topics = settings.topics
    sinks = {name: app.topic(name, key_serializer="raw", value_serializer="raw")
             for name in (topics.alerts, topics.deadletter, topics.references, topics.retrain)}
    state = RedisState.from_settings(settings.redis, keep_events=settings.history_events)

    metrics = WorkerMetrics()
    if settings.metrics_port:
        install_metrics_page(app, metrics)

    async def send(topic: str, key: bytes, value: bytes) -> None:
        delivery = await sinks[topic].send(key=key, value=value)
        await delivery  # wait for the broker's ack (acks=all) before going on

    outputs = Outputs(send, topics, recorders=[_MetricsRecorder(metrics), _HistoryRecorder(state.history)])
    defaults = defaults or WorkerDefaults()
    specs = dict(specs or {})
    default_spec = defaults.default_spec()
    retrain = RetrainStep(state.retrain, outputs)
    judge = PerformanceJudge(state.labels, outputs, state.leases, retrain, references=state.windows, observer=metrics)
    prediction_processor = PredictionProcessor(
        settings, state.windows, outputs, defaults, specs=specs, leases=state.leases, retrain=retrain,
        on_statistic=metrics.statistic,
        topic_partitions=lambda: predictions.partition_count(),  # known once the consumer has its metadata
        judge=judge,
    )
    predictions = BatchIngest(settings, topics.predictions, prediction_processor, group_suffix="predictions",
                              metrics=metrics, progress=state.progress)
    feature_processor = PredictionProcessor(
        settings, state.windows, outputs, defaults, specs=specs, leases=state.leases, retrain=retrain,
        on_statistic=metrics.statistic, topic_partitions=lambda: predictions.partition_count(), features_only=True,
    )
    features = BatchIngest(settings, topics.features, feature_processor, group_suffix="features", metrics=metrics,
                           progress=state.progress)
    label_processor = LabelProcessor(settings, state.labels, outputs, lambda m: specs.get(m, default_spec),
                                     leases=state.leases, retrain=retrain, judge=judge)
    labels = BatchIngest(settings, topics.labels, label_processor, group_suffix="labels", metrics=metrics,
                         progress=state.progress)

    @app.task  # type: ignore[untyped-decorator]
    async def start_ingest() -> None:
        # Runtime dependencies start once the app (and its producer) runs, and stop with it.
        await app.add_runtime_dependency(predictions)
        await app.add_runtime_dependency(features)
        await app.add_runtime_dependency(labels)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]
    async def _close_state(app: faust.App, **kwargs: Any) -> None:
        await state.aclose()

    return app


class _MetricsRecorder:
    """Counts what was published: dead letters by reason class, alerts by state, triggers."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self._metrics = metrics

    async def dead_letter(self, letter: DeadLetter) -> None:
        self._metrics.dead_letter(letter)

    async def alert(self, alert: DriftAlert, value: bytes) -> None:
        self._metrics.alert(alert)

    async def trigger(self, trigger: RetrainTrigger, value: bytes) -> None:
        self._metrics.trigger(trigger)


class _HistoryRecorder:
    """Keeps published alerts and triggers in the model's history, for the dashboard (the bytes sent)."""

    def __init__(self, history: HistoryStore) -> None:
        self._history = history

    async def dead_letter(self, letter: DeadLetter) -> None:
        return None

    async def alert(self, alert: DriftAlert, value: bytes) -> None:
        await self._history.record_alert(alert, value)

    async def trigger(self, trigger: RetrainTrigger, value: bytes) -> None:
        await self._history.record_trigger(trigger, value)


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
