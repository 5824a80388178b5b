"""The prediction processor: one batch of records in, sketches, alerts and dead letters out.

The faust agent is a thin loop around :meth:`PredictionProcessor.process`. The
order of effects is what keeps state exact under at-least-once delivery:

1. dead letters are published (and confirmed);
2. increments go to Redis with the partition watermarks, atomically;
3. windows whose event time has passed are evaluated under the model's lease
   (:mod:`driftline.streams.model_lock`: one closer per model across workers),
   their alerts published (and confirmed), and only then marked closed, if the
   lease is still held;
4. the method returns, and only then does faust ack the records.

A failure in any step is retried with backoff instead of raised
(:func:`driftline.streams.retry.until_done`): an exception escaping the batch
would stop the consumer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from driftline.config.events import DriftAlert
from driftline.config.monitor_spec import ModelSpec
from driftline.config.settings import Settings
from driftline.detectors.monitoring import resolve_spec, spec_problems
from driftline.detectors.policies.alert_policy import AlertPolicy
from driftline.detectors.reference import ModelReference
from driftline.detectors.window_check import compare_window, window_alerts
from driftline.streams.batch import ModelBatch, Record, WarmupBatch, decode_batch, plan_batch
from driftline.streams.codec import encode
from driftline.streams.metrics import WorkerMetrics
from driftline.streams.model_lock import LeaseLost, ModelLocks
from driftline.streams.monitors import ModelMonitor, WindowLayout, WindowOptions, check_supported
from driftline.streams.online_step import OnlineStep
from driftline.streams.retrain import RetrainStep, policy_of
from driftline.streams.retry import DEFAULT_DELAYS, Guard, attempts
from driftline.streams.sketch_store import REFERENCE_EXISTS, ApplyResult, CloseResult, SketchStore
from driftline.streams.warmup import warmup_reference

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, bytes], Awaitable[None]]
"""``publish(topic, key, value)``: returns once the broker has acknowledged the message."""


class PredictionProcessor:
    def __init__(
        self,
        settings: Settings,
        store: SketchStore,
        publish: Publish,
        options: WindowOptions | None = None,
        *,
        specs: dict[str, ModelSpec] | None = None,
        metrics: WorkerMetrics | None = None,
        retry_delays: Sequence[float] = DEFAULT_DELAYS,
        topic_partitions: Callable[[], int | None] = lambda: None,
        locks: ModelLocks | None = None,
    ) -> None:
        self._metrics = metrics
        self._settings = settings
        self._store = store
        self._publish = publish
        self._options = options or WindowOptions()
        self._defaults = self._options.default_spec()
        self._specs = dict(specs or {})
        check_supported(self._specs)
        self._retry_delays = retry_delays
        self._online = OnlineStep(store)
        self._retrain = RetrainStep(store.redis, publish, settings.topics.retrain)
        self._topic_partitions = topic_partitions
        self._locks = locks or ModelLocks(store.redis)
        self._references: dict[str, tuple[float, ModelMonitor | None]] = {}

    def spec_for(self, model_id: str) -> ModelSpec | None:
        """The spec a model is monitored with (None before its reference is known): for the label path."""
        loaded = self._references.get(model_id)
        if loaded is not None and loaded[1] is not None:
            return loaded[1].spec
        return self._specs.get(model_id)

    async def process(self, records: Sequence[Record], guard: Guard | None = None) -> None:
        """Apply one batch; returns only when every effect is durable."""
        await attempts("process batch", lambda: self._process_once(records), guard, self._retry_delays)

    async def _process_once(self, records: Sequence[Record]) -> None:
        topic = self._settings.topics.predictions
        decoded = decode_batch(records, topic=topic, max_bytes=self._settings.max_event_bytes,
                               max_future_seconds=self._settings.max_future_seconds)
        model_ids = set(decoded.model_ids)
        monitors = await self._load_monitors(model_ids)
        warming = {m for m in model_ids - monitors.keys() if self._warmup_events(m) > 0}
        pairs = sorted({(m, rec.partition) for rec, m in zip(decoded.records, decoded.model_ids, strict=True)})
        applied = await self._store.applied_offsets(pairs)
        models = {m: monitor.ingest() for m, monitor in monitors.items()}
        plan = plan_batch(decoded, topic=topic, models=models, applied=applied, warming=warming)
        deadletter = self._settings.topics.deadletter
        await asyncio.gather(*(self._publish(deadletter, d.topic.encode(), encode(d)) for d in plan.dead_letters))
        if plan.dead_letters:
            first = plan.dead_letters[0].reason
            log.warning("dead-lettered %d record(s); first reason: %s", len(plan.dead_letters), first)
        for batch in plan.model_batches:
            await self._apply(monitors[batch.model_id], batch)
        for warmup in plan.warmups:
            await self._apply_warmup(warmup)
        for model_id in sorted({b.model_id for b in plan.model_batches}):
            await self._close_windows(monitors[model_id])

    async def _apply(self, monitor: ModelMonitor, batch: ModelBatch) -> None:
        online_alerts = await self._online.run(monitor, batch)
        if online_alerts:
            for alert in online_alerts:  # one at a time: a model's alerts keep their order on its partition
                await self._publish_alert(alert)
            async with self._locks.hold(monitor.model_id):
                await self._retrain.after_alerts(monitor.model_id, monitor.retrain, online_alerts,
                                                 batch.max_event_time)
        layout = monitor.layout
        result = await self._store.apply(batch, bucket_seconds=layout.bucket_seconds,
                                         lateness_seconds=layout.lateness_seconds,
                                         expected_partitions=self._expected_partitions(monitor))
        if result is ApplyResult.OVERLAPS_WATERMARK:
            # The planner filtered against the watermark it read; a concurrent
            # writer moved it since. Raising makes the whole batch re-plan.
            raise RuntimeError(f"watermark of {batch.model_id} partition {batch.partition} moved during the batch")

    def _warmup_events(self, model_id: str) -> int:
        return (self._specs.get(model_id) or self._defaults).warmup_events

    async def _apply_warmup(self, batch: WarmupBatch) -> None:
        collected = await self._store.apply_warmup(batch)
        if collected == REFERENCE_EXISTS or collected < 0:
            # Another worker set the reference (or moved the watermark): re-plan the batch with it.
            self._references.pop(batch.model_id, None)
            raise RuntimeError(f"model {batch.model_id} changed during the batch (warm-up); re-planning")
        if collected < self._warmup_events(batch.model_id):
            return
        candidate = warmup_reference(batch.model_id, await self._store.warmup_rows(batch.model_id))
        # Topic first (the durable copy), then Redis, first writer wins; the winner is what the topic keeps.
        await self._publish(self._settings.topics.references, batch.model_id.encode(), candidate.to_json())
        reference = await self._store.put_reference_if_absent(candidate)
        if reference != candidate:
            await self._publish(self._settings.topics.references, batch.model_id.encode(), reference.to_json())
        self._references.pop(batch.model_id, None)
        log.info("model %s: warm-up reference %s from %d events", batch.model_id, reference.version, collected)

    def _expected_partitions(self, monitor: ModelMonitor) -> int:
        """How many partitions must have carried the model before its windows close: every partition of the
        topic for a model spread over them (unknown yet: more than any), else those that carried it (0)."""
        if not monitor.spec.spread_over_partitions:
            return 0
        return self._topic_partitions() or 1 << 30

    async def _closable(self, monitor: ModelMonitor) -> list[int]:
        layout = monitor.layout
        return await self._store.closable_windows(
            monitor.model_id, window_seconds=layout.bucket_seconds, lateness_seconds=layout.lateness_seconds,
            expected_partitions=self._expected_partitions(monitor),
        )

    async def _close_windows(self, monitor: ModelMonitor) -> None:
        """Close the model's windows the event time has passed, under the model's lease: when the model is
        spread over partitions, other workers may find the same windows closable at the same time."""
        if not await self._closable(monitor):
            return
        async with self._locks.hold(monitor.model_id) as lease:
            for window_id in await self._closable(monitor):  # again: the last holder may have closed them
                await self._close_window(monitor, window_id, lease)

    async def _close_window(self, monitor: ModelMonitor, window_id: int, lease: str) -> None:
        layout, model_id = monitor.layout, monitor.model_id
        first = window_id - layout.buckets_per_window + 1
        counts = await self._store.read_windows(model_id, range(first, window_id + 1))
        start = datetime.fromtimestamp(first * layout.bucket_seconds, tz=UTC)
        end = datetime.fromtimestamp((window_id + 1) * layout.bucket_seconds, tz=UTC)
        results = compare_window(monitor.reference, monitor.spec, counts.features)
        if self._metrics is not None:
            for r in results:
                self._metrics.statistic(model_id, r.key, r.verdict.test, r.verdict.statistic)
        states = await self._store.alert_states(model_id)
        states, alerts = window_alerts(monitor.reference, results, states, monitor.policy, start=start, end=end)
        for alert in alerts:  # one at a time: a model's alerts keep their order on its partition
            await self._publish_alert(alert)
        await self._retrain.after_alerts(model_id, monitor.retrain, alerts, end.timestamp())
        if alerts and self._settings.fault_hold_close_seconds:
            log.warning("fault point: alerts of %s window %d published, holding its close for %.1fs", model_id,
                        window_id, self._settings.fault_hold_close_seconds)
            await asyncio.sleep(self._settings.fault_hold_close_seconds)
        closed = await self._store.close_window(model_id, window_id, end.timestamp(), results, states,
                                                window_start=start.timestamp(),
                                                history_windows=self._settings.history_windows, lease=lease,
                                                buckets_per_window=layout.buckets_per_window)
        if closed is CloseResult.LEASE_LOST:
            # Paused past the lease's TTL, and another worker holds it now: nothing was stored; the batch is
            # re-run (what this one published is what the new holder publishes: repeats of the same ids).
            raise LeaseLost(f"model {model_id}: lease lost while closing window {window_id}")

    async def _publish_alert(self, alert: DriftAlert) -> None:
        await self._publish(self._settings.topics.alerts, alert.model_id.encode(), encode(alert))
        log.info("alert %s: %s %s=%.3f", alert.state, alert.feature, alert.detector, alert.statistic)

    async def _load_monitors(self, model_ids: set[str]) -> dict[str, ModelMonitor]:
        """Each model's reference and spec, re-read every few seconds so a new reference version is picked up."""
        now = time.monotonic()
        for model_id in model_ids:
            loaded_at, current = self._references.get(model_id, (float("-inf"), None))
            if now - loaded_at >= self._options.reference_refresh_seconds:
                reference = await self._store.get_reference(model_id)
                if current is None or reference is None or current.reference != reference:
                    current = self._monitor(model_id, reference) if reference is not None else None
                self._references[model_id] = (now, current)
        return {m: monitor for m in model_ids if (monitor := self._references[m][1]) is not None}

    def _monitor(self, model_id: str, reference: ModelReference) -> ModelMonitor:
        spec = resolve_spec(model_id, reference, self._specs, self._defaults)
        for problem in spec_problems(spec, reference):
            log.warning("model %s: %s; it is not monitored until a reference profiles it", model_id, problem)
        log.info("model %s: reference %s, %d feature(s) monitored", model_id, reference.version, len(spec.features))
        policy = AlertPolicy(
            fire_after=spec.alert_policy.fire_after, resolve_after=spec.alert_policy.resolve_after,
            cooldown_seconds=spec.alert_policy.cooldown_seconds, min_samples=spec.thresholds.min_samples,
        )
        return ModelMonitor(reference, spec, WindowLayout.of(spec.window), policy, policy_of(spec.retrain_policy))
