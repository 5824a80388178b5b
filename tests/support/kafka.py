"""Kafka for the tests: one producer, and one reader that waits for a topic to hold what is expected.

A topic's record count and its every record are the oracle's (``topic_records``, ``read_all``), and so is
sending the fault suite's `Workload` (``oracle.produce``, paced): import those from
``driftline.streams.testing.oracle``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from driftline.config.settings import Settings
from driftline.streams.app.kafka import kafka_options
from driftline.streams.testing.oracle import read_all, topic_records

from .waiting import poll

#: A message to send: an event (a dict, sent as JSON) or a raw value (bytes as they are, None a tombstone).
Message = dict[str, object] | bytes | None

#: The producer's settings unless the caller's differ: every send acknowledged by all replicas, in batches.
PRODUCER_DEFAULTS: dict[str, Any] = {"acks": "all", "linger_ms": 20, "max_batch_size": 262_144}

#: Sends in flight before they are awaited together.
IN_FLIGHT = 5000


async def produce(
    settings: Settings,
    messages: Iterable[Message],
    *,
    topic: str | None = None,
    key: str | None = None,
    key_by: str = "model_id",
    partition: int | None = None,
    **options: Any,
) -> int:
    """Send ``messages`` in order to ``topic`` (the predictions topic unless named) and wait until the broker has
    acknowledged every one; returns how many were sent.

    An event is keyed by its ``key_by`` field: ``model_id`` (a model's events on one partition, as producers key
    predictions) or ``prediction_id`` (spread over every partition); a raw value goes unkeyed. ``key`` keys every
    message alike instead (a bad message then lands between its good neighbours), ``partition`` sends them all to
    that partition. ``options`` go to the AIOKafkaProducer over `PRODUCER_DEFAULTS` (``max_request_size`` for
    huge messages, ``enable_idempotence``, ...).
    """
    producer = AIOKafkaProducer(**kafka_options(settings.kafka), **{**PRODUCER_DEFAULTS, **options})
    await producer.start()
    topic = topic or settings.topics.predictions
    sent, in_flight = 0, []
    try:
        for message in messages:
            if isinstance(message, dict):
                value, message_key = orjson.dumps(message), key if key is not None else str(message[key_by])
            else:
                value, message_key = message, key
            in_flight.append(await producer.send(
                topic, value, key=None if message_key is None else message_key.encode(), partition=partition))
            sent += 1
            if len(in_flight) >= IN_FLIGHT:
                await asyncio.gather(*in_flight)
                in_flight = []
        await asyncio.gather(*in_flight)
    finally:
        await producer.stop()
    return sent


async def read_topic(settings: Settings, topic: str, at_least: int = 0, seconds: float = 30.0) -> list[bytes]:
    """Every record of ``topic`` (``oracle.read_all``: from its beginning to its end, each once, in partition
    and offset order), read once it holds ``at_least`` records, or when ``seconds`` are up with fewer (the
    caller's checks then say what is missing)."""

    async def enough() -> bool:
        return await topic_records(settings, topic) >= at_least

    if at_least > 0:
        await poll(enough, seconds)
    return await read_all(settings, topic)
