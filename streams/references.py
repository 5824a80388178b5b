"""Publish a model's reference: to Redis (what workers read) and to the compacted references
topic (the durable source of truth, keyed by model, so the latest version is always kept)."""

from __future__ import annotations

import hashlib

from aiokafka import AIOKafkaProducer

from driftline.config.settings import Settings
from driftline.detectors.reference import ModelReference
from driftline.streams.kafka_client import client_options
from driftline.streams.sketch_store import SketchStore


def content_version(reference: ModelReference) -> str:
    """A version derived from the reference's content: the same data gives the same version."""
    return hashlib.sha256(reference.to_json()).hexdigest()[:12]


async def publish_reference(settings: Settings, reference: ModelReference) -> None:
    """Topic first: if Redis fails after it, a rerun converges; workers pick Redis up within seconds."""
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topics.references, reference.to_json(), key=reference.model_id.encode())
    finally:
        await producer.stop()
    store = SketchStore.from_settings(settings.redis)
    try:
        await store.put_reference(reference)
    finally:
        await store.close()
