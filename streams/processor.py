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
from driftline.config.monitor_spec import (
    AlertPolicySpec,
    ModelSpec,
    SlidingWindow,
    Thresholds,
    TumblingWindow,
)
from driftline.config.settings import Settings
from driftline.detectors.monitoring import resolve_spec, spec_problems
from driftline.detectors.policies.alert_policy import AlertPolicy
from driftline.detectors.reference import ModelReference
from driftline.detectors.window_check import compare_window, window_alerts
from driftline.streams.batch import ModelBatch, ModelIngest, Record, decode_batch, plan_batch
from driftline.streams.codec import encode
from driftline.streams.sketch_store import ApplyResult, SketchStore

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, bytes], Awaitable[None]]
"""``publish(topic, key, value)``: returns once the broker has acknowledged the message."""


@dataclass(frozen=True)
class WindowOptions:
    """The worker's defaults (its command-line flags): the spec of every model without one of its own."""

    window_seconds: int = 60
    lateness_seconds: int = 0
    min_samples: int = 100
    fire_after: int = 1
    resolve_after: int = 2
    cooldown_seconds: float = 0.0
    reference_refresh_seconds: float = 10.0
    join_labels: bool = False

    def default_spec(self) -> ModelSpec:
        return ModelSpec(
            window=TumblingWindow(size_seconds=self.window_seconds, lateness_seconds=self.lateness_seconds),
            thresholds=Thresholds(min_samples=self.min_samples),
            alert_policy=AlertPolicySpec(fire_after=self.fire_after, resolve_after=self.resolve_after,
                                         cooldown_seconds=self.cooldown_seconds),
            join_labels=self.join_labels,
        )


@dataclass(frozen=True)
class WindowLayout:
    """Windows as runs of buckets: a tumbling window is one bucket, a sliding one ``size / step`` buckets.

    >>> WindowLayout.of(SlidingWindow(kind="sliding", size_seconds=300, step_seconds=60)).buckets_per_window
    5
    """

    bucket_seconds: int
    buckets_per_window: int
    lateness_seconds: int

    @classmethod
    def of(cls, window: object) -> WindowLayout:
        if isinstance(window, TumblingWindow):
            return cls(window.size_seconds, 1, window.lateness_seconds)
        if isinstance(window, SlidingWindow):
            return cls(window.step_seconds, window.size_seconds // window.step_seconds, window.lateness_seconds)
        raise UnsupportedSpec(f"{getattr(window, 'kind', window)!r} windows are not supported by the worker yet; "
                              "use tumbling or sliding (event-time) windows")


class UnsupportedSpec(ValueError):
    """A valid spec asking for something this worker cannot do yet."""


def check_supported(specs: dict[str, ModelSpec]) -> None:
    """Fail at start-up, naming the model, instead of silently ignoring part of a spec."""
    for model_id, spec in specs.items():
        try:
            WindowLayout.of(spec.window)
        except UnsupportedSpec as exc:
            raise UnsupportedSpec(f"model {model_id}: {exc}") from None
        if spec.segments:
            raise UnsupportedSpec(f"model {model_id}: segments are not monitored separately by the worker yet")
        if spec.thresholds.ert_windows is not None:
            raise UnsupportedSpec(f"model {model_id}: thresholds.ert_windows is not applied by the worker yet; "
                                  "set the thresholds (see driftline.detectors.calibration to derive them)")
        for online in spec.online:
            if online.stream != "error":
                raise UnsupportedSpec(f"model {model_id}: online detector {online.detector} on the {online.stream} "
                                      "stream is not run by the worker yet (error-stream detectors are)")


@dataclass(frozen=True)
class ModelMonitor:
    """Everything the processor needs about one model at one reference version."""

    reference: ModelReference
    spec: ModelSpec
    layout: WindowLayout
    policy: AlertPolicy

    @property
    def model_id(self) -> str:
        return self.reference.model_id

    def ingest(self) -> ModelIngest:
        keep = int(self.spec.label_ttl_seconds) if self.spec.join_labels else 0
        return ModelIngest(self.reference, self.layout.bucket_seconds, keep)


class PredictionProcessor:
    def __init__(
        self,
        settings: Settings,
        store: SketchStore,
        publish: Publish,
        options: WindowOptions | None = None,
        *,
        specs: dict[str, ModelSpec] | None = None,
        retry_delays: Sequence[float] = (0.1, 0.5, 1.0, 2.0, 5.0),
    ) -> None:
        self._settings = settings
        self._store = store
        self._publish = publish
        self._options = options or WindowOptions()
        self._defaults = self._options.default_spec()
        self._specs = dict(specs or {})
        check_supported(self._specs)
        self._retry_delays = retry_delays
        self._references: dict[str, tuple[float, ModelMonitor | None]] = {}

    def spec_for(self, model_id: str) -> ModelSpec | None:
        """The spec a model is monitored with (None before its reference is known): for the label path."""
        loaded = self._references.get(model_id)
        if loaded is not None and loaded[1] is not None:
            return loaded[1].spec
        return self._specs.get(model_id)

    async def process(self, records: Sequence[Record]) -> None:
        """Apply one batch; returns only when every effect is durable."""
        await self._retrying("process batch", lambda: self._process_once(records))

    async def _process_once(self, records: Sequence[Record]) -> None:
        topic = self._settings.topics.predictions
        decoded = decode_batch(records, topic=topic, max_bytes=self._settings.max_event_bytes)
        monitors = await self._load_monitors(set(decoded.model_ids))
        pairs = sorted({(m, rec.partition) for rec, m in zip(decoded.records, decoded.model_ids, strict=True)})
        applied = await self._store.applied_offsets(pairs)
        models = {m: monitor.ingest() for m, monitor in monitors.items()}
        plan = plan_batch(decoded, topic=topic, models=models, applied=applied)
        deadletter = self._settings.topics.deadletter
        await asyncio.gather(*(self._publish(deadletter, d.topic.encode(), encode(d)) for d in plan.dead_letters))
        if plan.dead_letters:
            first = plan.dead_letters[0].reason
            log.warning("dead-lettered %d record(s); first reason: %s", len(plan.dead_letters), first)
        for batch in plan.model_batches:
            await self._apply(batch)
        for model_id in sorted({b.model_id for b in plan.model_batches}):
            await self._close_windows(monitors[model_id])

    async def _apply(self, batch: ModelBatch) -> None:
        result = await self._store.apply(batch)
        if result is ApplyResult.OVERLAPS_WATERMARK:
            # The planner filtered against the watermark it read; a concurrent
            # writer moved it since. Raising makes the whole batch re-plan.
            raise RuntimeError(f"watermark of {batch.model_id} partition {batch.partition} moved during the batch")

    async def _close_windows(self, monitor: ModelMonitor) -> None:
        layout, model_id = monitor.layout, monitor.model_id
        for window_id in await self._store.closable_windows(
            model_id, window_seconds=layout.bucket_seconds, lateness_seconds=layout.lateness_seconds
        ):
            first = window_id - layout.buckets_per_window + 1
            counts = await self._store.read_windows(model_id, range(first, window_id + 1))
            start = datetime.fromtimestamp(first * layout.bucket_seconds, tz=UTC)
            end = datetime.fromtimestamp((window_id + 1) * layout.bucket_seconds, tz=UTC)
            results = compare_window(monitor.reference, monitor.spec, counts.features)
            states = await self._store.alert_states(model_id)
            states, alerts = window_alerts(monitor.reference, results, states, monitor.policy, start=start, end=end)
            await asyncio.gather(*(self._publish_alert(alert) for alert in alerts))
            await self._store.close_window(model_id, window_id, end.timestamp(), results, states)

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
        return ModelMonitor(reference, spec, WindowLayout.of(spec.window), policy)

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
