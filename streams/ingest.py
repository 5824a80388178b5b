"""Batch ingest: a service inside the faust app that owns an aiokafka consumer for one topic.

faust's agents hand each message over separately (its consumer awaits a new
task per message), which capped the walking skeleton at ~1.8k events/s, and
they ack a batch even when its body raised. Here records arrive in batches of
up to ``max_records`` from ``getmany``, the whole batch goes to a :class:`BatchProcessor` (predictions:
:class:`~driftline.streams.processor.PredictionProcessor`), and the offsets are
committed only after it returns (Redis applied, alerts and dead letters
acknowledged by the broker). See docs/decisions/0006-batch-ingest.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from mode import Service

from driftline.config.settings import Settings
from driftline.streams.batch import Record
from driftline.streams.kafka_client import client_options
from driftline.streams.metrics import WorkerMetrics

log = logging.getLogger(__name__)


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets a batch in flight finish before partitions move to another worker."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._lock:  # the batch in flight finishes (and commits) first
            pass

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("assigned %s", sorted((tp.topic, tp.partition) for tp in assigned))


class BatchProcessor(Protocol):
    async def process(self, records: Sequence[Record]) -> None:
        """Apply a batch durably; return only when done (retrying inside), never raise on input."""


class BatchIngest(Service):  # type: ignore[misc]
    """Consume one topic in batches; process; commit. One batch at a time keeps offsets exact.

    The consumer group is ``<app_id>.<topic_role>`` (for example ``driftline.predictions``).
    """

    def __init__(
        self,
        settings: Settings,
        topic: str,
        processor: BatchProcessor,
        *,
        group_suffix: str,
        max_records: int = 5000,
        metrics: WorkerMetrics | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._metrics = metrics
        self._settings = settings
        self._topic = topic
        self._group_id = f"{settings.app_id}.{group_suffix}"
        self._processor = processor
        self._max_records = max_records
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self.events_consumed = 0

    async def on_start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            **client_options(self._settings),
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=16 * 1024 * 1024,
        )
        self._consumer.subscribe([self._topic], listener=_CommitOnRevoke(self._lock))
        await self._consumer.start()

    async def on_stop(self) -> None:
        if self._consumer is not None:
            # Wait for the batch in flight: stopping mid-batch would only mean redoing it, but
            # finishing it keeps a graceful stop free of duplicate dead letters.
            async with self._lock:
                await self._consumer.stop()

    @Service.task  # type: ignore[misc]
    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while not self.should_stop:
            batches = await consumer.getmany(timeout_ms=500, max_records=self._max_records)
            if not batches:
                continue
            async with self._lock:
                started = time.perf_counter()
                records = [
                    Record(partition=tp.partition, offset=m.offset, value=m.value, key=m.key)
                    for tp, messages in batches.items()
                    for m in messages
                ]
                await self._processor.process(records)
                self.events_consumed += len(records)
                next_offsets = {tp: messages[-1].offset + 1 for tp, messages in batches.items()}
                await self._commit(consumer, next_offsets)
                if self._metrics is not None:
                    self._record(consumer, next_offsets, len(records), time.perf_counter() - started)

    def _record(
        self, consumer: AIOKafkaConsumer, next_offsets: dict[TopicPartition, int], n: int, seconds: float
    ) -> None:
        assert self._metrics is not None
        self._metrics.batch(self._topic, n, seconds)
        for tp, offset in next_offsets.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self._metrics.lag(tp.topic, tp.partition, highwater - offset)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The partitions moved during the batch. Redis already holds the batch with its
            # watermarks, so whoever re-reads these offsets skips them: nothing is counted twice.
            log.warning("offset commit failed (%s); the next owner re-reads and skips the batch", exc)
