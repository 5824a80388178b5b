"""The faust app, built by a factory: nothing is created or read at import time."""

from __future__ import annotations

import logging
from typing import Any

import faust

from driftline.config.settings import Settings
from driftline.streams.batch import Record
from driftline.streams.kafka_client import ssl_context
from driftline.streams.processor import PredictionProcessor, WindowOptions
from driftline.streams.sketch_store import SketchStore

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
BATCH_WITHIN_SECONDS = 0.5


def create_app(settings: Settings, options: WindowOptions | None = None) -> faust.App:
    """A faust app whose one agent feeds prediction batches to a :class:`PredictionProcessor`."""
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.kafka.bootstrap_servers],
        broker_credentials=_credentials(settings),
        store="memory://",
        web_enabled=False,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,  # topics are created by ensure_topics with the right configs
    )
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    predictions = app.topic(settings.topics.predictions, **raw)
    outputs = {name: app.topic(name, **raw) for name in (settings.topics.alerts, settings.topics.deadletter)}
    store = SketchStore.from_url(settings.redis.url.get_secret_value())

    async def publish(topic: str, key: bytes, value: bytes) -> None:
        delivery = await outputs[topic].send(key=key, value=value)
        await delivery  # wait for the broker's ack (acks=all) before going on

    processor = PredictionProcessor(settings, store, publish, options)

    # concurrency=1: one batch at a time keeps per-partition order and watermarks exact.
    @app.agent(predictions, concurrency=1)
    async def monitor_predictions(stream: faust.StreamT[bytes]) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_SECONDS):
            records = [
                Record(partition=e.message.partition, offset=e.message.offset, value=e.message.value, key=e.message.key)
                for e in events
            ]
            await processor.process(records)

    @app.on_before_shutdown.connect
    async def _close_store(app: faust.App, **kwargs: Any) -> None:
        await store.close()

    return app


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
