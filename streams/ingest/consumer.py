"""Batch ingest: a service inside the faust app that owns an aiokafka consumer for one topic.

faust's agents hand each message over separately (its consumer awaits a new
task per message), which capped the walking skeleton at ~1.8k events/s, and
they ack a batch even when its body raised. Here records arrive in batches of
up to ``max_records`` from ``getmany``, the whole batch goes to a :class:`BatchProcessor` (predictions:
:class:`~driftline.streams.pipeline.predictions.PredictionProcessor`), and the offsets are
committed only after it returns (Redis applied, alerts and dead letters
acknowledged by the broker). See docs/decisions/0006-batch-ingest.md.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from mode import Service

from driftline.config import Settings
from driftline.streams.app.kafka import kafka_options
from driftline.streams.app.metrics import WorkerMetrics
from driftline.streams.ingest.decode import Record
from driftline.streams.ingest.errors import StateBehind
from driftline.streams.ingest.retry import Guard, until_done
from driftline.streams.state import Progress, start_offset

log = logging.getLogger(__name__)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets a batch in flight finish before partitions move to another worker, and starts newly
    assigned partitions where Redis says processing is (:mod:`driftline.streams.state.progress`)."""

    def __init__(self, ingest: BatchIngest) -> None:
        self._ingest = ingest

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._ingest.lock:  # the batch in flight finishes (and commits) first
            self._ingest.forget_positions(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("assigned %s", sorted((tp.topic, tp.partition) for tp in assigned))
        self._ingest.forget_positions(assigned)  # positions from an earlier assignment no longer hold
        await self._ingest.seek_to_progress(assigned)


class BatchProcessor(Protocol):
    async def process(self, records: Sequence[Record], guard: Guard | None = None) -> None:
        """Apply a batch durably; return only when done (retrying inside), never raise on input.
        ``guard()`` runs before every attempt; the :class:`StateBehind` it raises is raised."""

    async def idle(self) -> None:
        """No record came for a moment (a fetch returned nothing): time-driven work, such as closing the
        windows of models whose events stopped. A failure is logged; the next idle moment tries again."""


class BatchIngest(Service):
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
        progress: Callable[[str], Progress] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._metrics = metrics
        self._settings = settings
        self._topic = topic
        self._group_id = f"{settings.app_id}.{group_suffix}"
        self._processor = processor
        self._max_records = max_records
        self.lock = asyncio.Lock()
        self._progress = progress(self._group_id) if progress is not None else None
        self._consumer: AIOKafkaConsumer | None = None
        self._positions: dict[TopicPartition, int] = {}  # next offset after the last committed batch
        self.events_consumed = 0

    async def on_start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            **kafka_options(self._settings.kafka),
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=16 * 1024 * 1024,
        )
        self._consumer.subscribe([self._topic], listener=_Rebalance(self))
        await self._consumer.start()

    async def on_stop(self) -> None:
        if self._consumer is not None:
            # Wait for the batch in flight: stopping mid-batch would only mean redoing it, but
            # finishing it keeps a graceful stop free of duplicate dead letters.
            async with self.lock:
                await self._consumer.stop()

    @Service.task
    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while not self.should_stop:
            batches = await consumer.getmany(timeout_ms=500, max_records=self._max_records)
            if not batches:
                self._report_lag(consumer)  # idle: the highwaters of the empty fetches say we are caught up
                async with self.lock:
                    try:
                        await self._processor.idle()
                    except Exception as exc:  # noqa: BLE001 — retried at the next idle moment, never fatal
                        log.warning("%s: idle work failed (%s); trying again at the next idle moment", self._topic,
                                    exc)
                continue
            async with self.lock:
                started = time.perf_counter()
                records = [
                    Record(partition=tp.partition, offset=m.offset, value=m.value, key=m.key, timestamp_ms=m.timestamp)
                    for tp, messages in batches.items()
                    for m in messages
                ]
                try:
                    await self._processor.process(records, functools.partial(self._check_progress, batches))
                except StateBehind as behind:
                    await self._reread(consumer, batches, behind.restart_at)
                    continue
                self.events_consumed += len(records)
                next_offsets = {tp: messages[-1].offset + 1 for tp, messages in batches.items()}
                await self._mark_progress(next_offsets)
                if self._settings.fault_hold_commit_seconds:
                    log.warning("fault point: Redis written, holding the offset commit for %.1fs",
                                self._settings.fault_hold_commit_seconds)
                    await asyncio.sleep(self._settings.fault_hold_commit_seconds)
                await self._commit(consumer, next_offsets)
                self._positions.update(next_offsets)
                if self._metrics is not None:
                    self._metrics.batch(self._topic, len(records), time.perf_counter() - started)
                    self._report_lag(consumer)

    def partition_count(self) -> int | None:
        """How many partitions the topic has, from the consumer's metadata (None before it has any)."""
        partitions = self._consumer.partitions_for_topic(self._topic) if self._consumer is not None else None
        return len(partitions) if partitions else None

    async def seek_to_progress(self, assigned: set[TopicPartition]) -> None:
        """Start each assigned partition at Redis' progress when it differs from the committed offset."""
        consumer, progress = self._consumer, self._progress
        if progress is None or consumer is None or not assigned:
            return
        partitions = sorted(tp.partition for tp in assigned if tp.topic == self._topic)
        processed = await until_done("read partition progress", lambda: progress.read(self._topic, partitions))
        for tp in sorted(assigned, key=lambda t: t.partition):
            committed = await consumer.committed(tp)
            target = start_offset(committed, processed.get(tp.partition))
            if target is None:
                continue
            if target == -1:
                log.warning("%s[%d]: offset %s committed but no progress in Redis (state lost?): reading the "
                            "partition from the beginning", tp.topic, tp.partition, committed)
                await consumer.seek_to_beginning(tp)
                continue
            if committed is not None and target < committed:
                log.warning("%s[%d]: Redis is behind the committed offset (%d < %d; restored from an older "
                            "snapshot?): re-reading from %d", tp.topic, tp.partition, target, committed, target)
            consumer.seek(tp, target)

    async def _check_progress(self, batches: dict[TopicPartition, list[Any]]) -> None:
        """Raise :class:`StateBehind` when Redis' progress of a partition in this batch is behind where this
        consumer has processed it to: Redis was restored from an older snapshot (or lost its state) while
        the worker ran. Applying the batch would move the watermarks past the records Redis lost."""
        progress = self._progress
        known = {tp: position for tp in batches if (position := self._positions.get(tp)) is not None}
        if progress is None or not known:
            return
        stored = await progress.read(self._topic, [tp.partition for tp in known])
        behind = {tp.partition: stored.get(tp.partition, -1) for tp, position in known.items()
                  if stored.get(tp.partition, -1) < position}
        if behind:
            raise StateBehind(behind)

    async def _reread(self, consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[Any]],
                restart_at: dict[int, int]) -> None:
        """Drop the batch in hand: the partitions Redis is behind on start again at Redis' progress (-1: the
        beginning), the others at this batch's first record."""
        for tp, messages in batches.items():
            target = restart_at.get(tp.partition, messages[0].offset)
            if tp.partition in restart_at:
                log.warning("%s[%d]: Redis is behind this consumer (progress %d < %d; restored from an older "
                            "snapshot?): re-reading from %s", tp.topic, tp.partition, target,
                            self._positions[tp], "the beginning" if target < 0 else target)
            if target < 0:
                self._positions.pop(tp, None)
                await consumer.seek_to_beginning(tp)
            else:
                self._positions[tp] = target
                consumer.seek(tp, target)

    async def _mark_progress(self, next_offsets: dict[TopicPartition, int]) -> None:
        progress = self._progress
        if progress is None:
            return
        by_partition = {tp.partition: offset for tp, offset in next_offsets.items()}
        await until_done("save partition progress", lambda: progress.mark(self._topic, by_partition))

    def forget_positions(self, partitions: set[TopicPartition]) -> None:
        """Partitions revoked or (re)assigned: their positions are unknown until their next batch."""
        for tp in partitions:
            self._positions.pop(tp, None)
        if self._metrics is not None:
            self._metrics.forget_lag(self._topic, sorted(tp.partition for tp in partitions if tp.topic == self._topic))

    def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Lag (highwater - position) of every owned partition with a batch behind it and a fetch response."""
        if self._metrics is None:
            return
        for tp in consumer.assignment():
            position, highwater = self._positions.get(tp), consumer.highwater(tp)
            if position is not None and highwater is not None:
                self._metrics.lag(tp.topic, tp.partition, highwater - position)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The partitions moved during the batch. Redis already holds the batch with its
            # watermarks, so whoever re-reads these offsets skips them: nothing is counted twice.
            log.warning("offset commit failed (%s); the next owner re-reads and skips the batch", exc)

