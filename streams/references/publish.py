"""Publish a model's reference: to Redis (what workers read) and to the compacted references
topic (the durable source of truth, keyed by model, so the latest version is always kept)."""

from __future__ import annotations

from dataclasses import replace

from aiokafka import AIOKafkaProducer

from driftline.config import Settings
from driftline.detectors import ModelReference, PerformanceState
from driftline.streams.app.kafka import kafka_options
from driftline.streams.state import RedisState, State


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
        if reference.performance is not None:
            await forget_performance_reference(state, reference.model_id)
    finally:
        await state.aclose()


async def forget_performance_reference(state: State, model_id: str) -> None:
    """The performance alert takes the new reference's performance at its next judgement (under the model's
    lease, as the judge writes its state); its firing state and last judged window stay."""
    async with state.leases.hold(model_id):
        judged = PerformanceState.from_bytes(await state.labels.performance_state(model_id))
        if judged.reference is not None:
            await state.labels.put_performance_state(model_id, replace(judged, reference=None).to_bytes())
