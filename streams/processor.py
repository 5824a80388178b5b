"""The prediction processor: one batch of records in, sketches, alerts and dead letters out.

The faust agent is a thin loop around :meth:`PredictionProcessor.process`. The
order of effects is what keeps state exact under at-least-once delivery:

1. dead letters are published (and confirmed);
2. increments go to Redis with the partition watermarks, atomically;
3. windows whose event time has passed are evaluated, their alerts published
   (and confirmed), and only then marked closed;
4. the method returns, and only then does faust ack the records.

A failure in any step is retried with backoff instead of raised: an exception
escaping a faust agent would ack the batch and lose it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from driftline.config.events import DriftAlert
from driftline.config.settings import Settings
from driftline.detectors.policies.alert_policy import AlertPolicy
from driftline.detectors.reference import ModelReference
from driftline.detectors.window_check import compare_window, window_alerts
from driftline.streams.batch import ModelBatch, Record, decode_batch, plan_batch
from driftline.streams.codec import encode
from driftline.streams.sketch_store import ApplyResult, SketchStore

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, bytes], Awaitable[None]]
"""``publish(topic, key, value)``: returns once the broker has acknowledged the message."""


@dataclass(frozen=True)
class WindowOptions:
    window_seconds: int = 60
    lateness_seconds: int = 0
    min_samples: int = 100
    fire_after: int = 1
    resolve_after: int = 2
    cooldown_seconds: float = 0.0
    reference_refresh_seconds: float = 10.0

    def alert_policy(self) -> AlertPolicy:
        return AlertPolicy(fire_after=self.fire_after, resolve_after=self.resolve_after,
                           cooldown_seconds=self.cooldown_seconds, min_samples=self.min_samples)


class PredictionProcessor:
    def __init__(
        self,
        settings: Settings,
        store: SketchStore,
        publish: Publish,
        options: WindowOptions | None = None,
        *,
        retry_delays: Sequence[float] = (0.1, 0.5, 1.0, 2.0, 5.0),
    ) -> None:
        self._settings = settings
        self._store = store
        self._publish = publish
        self._options = options or WindowOptions()
        self._policy = self._options.alert_policy()
        self._retry_delays = retry_delays
        self._references: dict[str, tuple[float, ModelReference | None]] = {}

    async def process(self, records: Sequence[Record]) -> None:
        """Apply one batch; returns only when every effect is durable."""
        await self._retrying("process batch", lambda: self._process_once(records))

    async def _process_once(self, records: Sequence[Record]) -> None:
        topic = self._settings.topics.predictions
        decoded = decode_batch(records, topic=topic, max_bytes=self._settings.max_event_bytes)
        references = await self._load_references(set(decoded.model_ids))
        pairs = sorted({(m, rec.partition) for rec, m in zip(decoded.records, decoded.model_ids, strict=True)})
        applied = await self._store.applied_offsets(pairs)
        plan = plan_batch(
            decoded, topic=topic, references=references,
            window_seconds=self._options.window_seconds, applied=applied,
        )
        for letter in plan.dead_letters:
            await self._publish(self._settings.topics.deadletter, letter.topic.encode(), encode(letter))
        if plan.dead_letters:
            first = plan.dead_letters[0].reason
            log.warning("dead-lettered %d record(s); first reason: %s", len(plan.dead_letters), first)
        for batch in plan.model_batches:
            await self._apply(batch)
        for model_id in {b.model_id for b in plan.model_batches}:
            await self._close_windows(references[model_id])

    async def _apply(self, batch: ModelBatch) -> None:
        result = await self._store.apply(batch)
        if result is ApplyResult.OVERLAPS_WATERMARK:
            # The planner filtered against the watermark it read; a concurrent
            # writer moved it since. Raising makes the whole batch re-plan.
            raise RuntimeError(f"watermark of {batch.model_id} partition {batch.partition} moved during the batch")

    async def _close_windows(self, reference: ModelReference) -> None:
        opts = self._options
        for window_id in await self._store.closable_windows(
            reference.model_id, window_seconds=opts.window_seconds, lateness_seconds=opts.lateness_seconds
        ):
            counts = await self._store.read_window(reference.model_id, window_id)
            start = datetime.fromtimestamp(window_id * opts.window_seconds, tz=UTC)
            end = datetime.fromtimestamp((window_id + 1) * opts.window_seconds, tz=UTC)
            results = compare_window(reference, counts.features)
            states = await self._store.alert_states(reference.model_id)
            states, alerts = window_alerts(reference, results, states, self._policy, start=start, end=end)
            for alert in alerts:
                await self._publish_alert(alert)
            await self._store.close_window(reference.model_id, window_id, end.timestamp(), results, states)

    async def _publish_alert(self, alert: DriftAlert) -> None:
        await self._publish(self._settings.topics.alerts, alert.model_id.encode(), encode(alert))
        log.info("alert %s: %s %s=%.3f", alert.state, alert.feature, alert.detector, alert.statistic)

    async def _load_references(self, model_ids: set[str]) -> dict[str, ModelReference]:
        """References of these models, re-read every few seconds so a new version is picked up."""
        now = time.monotonic()
        for model_id in model_ids:
            loaded_at, _ = self._references.get(model_id, (float("-inf"), None))
            if now - loaded_at >= self._options.reference_refresh_seconds:
                self._references[model_id] = (now, await self._store.get_reference(model_id))
        return {m: ref for m in model_ids if (ref := self._references[m][1]) is not None}

    async def _retrying(self, what: str, step: Callable[[], Awaitable[None]]) -> None:
        attempt = 0
        while True:
            try:
                await step()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — nothing may escape to faust, which would ack the batch
                delay = self._retry_delays[min(attempt, len(self._retry_delays) - 1)]
                attempt += 1
                log.warning("%s failed (attempt %d, retrying in %.1fs): %s", what, attempt, delay, exc)
                await asyncio.sleep(delay)
