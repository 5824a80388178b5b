"""Publish a model's reference: to Redis (what workers read) and to the compacted references
topic (the durable source of truth, keyed by model, so the latest version is always kept)."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from driftline.config import Settings
from driftline.detectors import ModelReference
from driftline.streams.app.kafka import kafka_options
from driftline.streams.state import RedisState


async def publish_reference(settings: Settings, reference: ModelReference) -> None:
    """Topic first: if Redis fails after it, a rerun converges; workers pick Redis up within seconds."""
    producer = AIOKafkaProducer(**kafka_options(settings.kafka), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topics.references, reference.to_json(), key=reference.model_id.encode())
    finally:
        await producer.stop()
    state = RedisState.from_settings(settings.redis)
    try:
        await state.windows.put_reference(reference)
    finally:
        await state.aclose()
