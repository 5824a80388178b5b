"""The prediction processor: one batch of records in, bucket counts, alerts and dead letters out.

The batch consumer (:mod:`driftline.streams.ingest.consumer`) is a thin loop around
:meth:`PredictionProcessor.process`. The order of effects is what keeps state exact under at-least-once
delivery (tests/test_streams/test_processors.py checks it on the in-memory state):

1. dead letters are published (and confirmed);
2. per (model, partition): the online detectors' alerts are published (and confirmed), then the bucket
   counts and the detector states go to the store with the partition's watermark, atomically;
3. windows whose event time has passed are evaluated under the model's lease
   (:class:`~driftline.streams.state.ModelLeases`: one closer per model across workers),
   their alerts published (and confirmed), and only then marked closed, if the
   lease is still held (:mod:`.closing`);
4. the method returns, and only then is the batch committed.

A failure in any step is retried with backoff instead of raised
(:func:`driftline.streams.ingest.retry.until_done`): an exception escaping the batch
would stop the consumer.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Mapping, Sequence

from driftline.config import PREDICTION_FEATURE, DeadLetter, ModelSpec, Settings
from driftline.detectors import ModelReference, NotComparable
from driftline.streams.ingest.decode import Record, decode_batch, decode_feature_batch
from driftline.streams.ingest.errors import Replan
from driftline.streams.ingest.retry import DEFAULT_DELAYS, Guard, attempts
from driftline.streams.pipeline.closing import StatisticObserver, WindowCloser
from driftline.streams.pipeline.joins import join, read_waiting_label
from driftline.streams.pipeline.model_setup import ModelMonitor, MonitorCache, WorkerDefaults, check_supported
from driftline.streams.pipeline.online import OnlineRunner, OnlineStream
from driftline.streams.pipeline.outputs import Outputs, Send
from driftline.streams.pipeline.performance import PerformanceJudge
from driftline.streams.pipeline.plan import ModelBatch, WarmupBatch, plan_batch, state_partition
from driftline.streams.pipeline.quiet import QuietModels, silence_alert
from driftline.streams.pipeline.retrain import RetrainStep
from driftline.streams.pipeline.warmup import warmup_reference
from driftline.streams.state import (
    REFERENCE_EXISTS,
    ApplyResult,
    BucketLayout,
    Join,
    ModelLeases,
    WindowStore,
    read_stored_prediction,
)

log = logging.getLogger(__name__)

ALL_PARTITIONS = 1 << 30
"""What a spread model waits for while the topic's partition count is not known yet: more than any."""


class PredictionProcessor:
    def __init__(
        self,
        settings: Settings,
        store: WindowStore,
        outputs: Outputs | Send,
        defaults: WorkerDefaults | None = None,
        *,
        leases: ModelLeases,
        retrain: RetrainStep,
        specs: Mapping[str, ModelSpec] | None = None,
        on_statistic: StatisticObserver | None = None,
        retry_delays: Sequence[float] = DEFAULT_DELAYS,
        topic_partitions: Callable[[], int | None] = lambda: None,
        judge: PerformanceJudge | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        features_only: bool = False,
    ) -> None:
        """``features_only``: the processor of the features topic (FeatureEvents): the same windows, under
        the features topic's own watermarks; no prediction, so no label join, warm-up, silence or idle close
        (the predictions' processor keeps those)."""
        self._settings = settings
        self._features_only = features_only
        self._features_known: set[str] = set()
        self._pinned: dict[str, dict[int, ModelReference | None]] = {}
        """Per model, buckets binned on an earlier reference version (learnt from a refused apply)."""
        """Models whose windows already wait for their FeatureEvents (no need to ask the store again)."""
        self._store = store
        self._outputs = Outputs.of(outputs, settings.topics)
        defaults = defaults or WorkerDefaults()
        specs = dict(specs or {})
        check_supported(specs)
        self._monitors = MonitorCache(store, specs, defaults.default_spec(),
                                      refresh_seconds=defaults.reference_refresh_seconds,
                                      false_alarms_per_day=defaults.false_alarms_per_day)
        self._retry_delays = retry_delays
        self._online = OnlineRunner(store.detector_states)
        self._retrain = retrain
        self._leases = leases
        self._closer = WindowCloser(settings, store, leases, self._outputs, retrain, on_statistic=on_statistic,
                                    clock=clock)
        self._topic_partitions = topic_partitions
        self._judge = judge
        self._clock = clock
        self._quiet = QuietModels(settings.idle_close_seconds, settings.silence_seconds, clock=monotonic)

    async def process(self, records: Sequence[Record], guard: Guard | None = None) -> None:
        """Apply one batch; returns only when every effect is durable."""
        await attempts("process batch", lambda: self._process_once(records), guard, self._retry_delays)

    async def _process_once(self, records: Sequence[Record]) -> None:
        topics = self._settings.topics
        topic = topics.features if self._features_only else topics.predictions
        decode = decode_feature_batch if self._features_only else decode_batch
        decoded = decode(records, topic=topic, max_bytes=self._settings.max_event_bytes,
                         max_future_seconds=self._settings.max_future_seconds)
        model_ids = set(decoded.model_ids)
        monitors = await self._monitors.load(model_ids)
        warming = {m for m in model_ids - monitors.keys() if self._monitors.spec_for(m).warmup_events > 0}
        pairs = sorted({(m, state_partition(decoded, rec.partition))
                        for rec, m in zip(decoded.records, decoded.model_ids, strict=True)})
        applied = await self._store.applied_offsets(pairs)
        models = {m: monitor.ingest() for m, monitor in monitors.items()}
        plan = plan_batch(decoded, topic=topic, models=models, applied=applied, warming=warming,
                          pinned={m: pins for m, pins in self._pinned.items() if m in models})
        await self._outputs.dead_letters(plan.dead_letters)
        for batch in plan.model_batches:
            await self._apply(monitors[batch.model_id], batch)
        for warmup in plan.warmups:
            await self._apply_warmup(warmup)
        for model_id in sorted({b.model_id for b in plan.model_batches}):
            monitor = monitors[model_id]
            await self._closer.close_due(monitor, self._expected_partitions(monitor))
            if not self._features_only:
                latest = max(b.max_event_time for b in plan.model_batches if b.model_id == model_id)
                await self._heard(monitor, latest)
        if self._judge is not None and not self._features_only:
            # Records redelivered after a crash are skipped (their joins are in), but the crash may have come
            # before the judge saw their windows: it looks at every window not judged yet (it is idempotent).
            replayed = {m for rec, m in zip(decoded.records, decoded.model_ids, strict=True)
                        if rec.offset <= applied.get((m, state_partition(decoded, rec.partition)), -1)}
            joined = {b.model_id for b in plan.model_batches if b.joins}
            for model_id in sorted((replayed - joined) & monitors.keys()):
                if monitors[model_id].spec.join_labels:
                    await self._judge.judge(model_id, monitors[model_id].spec, [],
                                            monitors[model_id].layout.bucket_seconds)

    async def _heard(self, monitor: ModelMonitor, event_time: float) -> None:
        """A model's events came: note it, and end its silence alert if one fires (this worker's, or one a
        worker before it raised: the firing set says)."""
        model_id = monitor.model_id
        silent_since = self._quiet.saw(model_id, event_time, bucket_seconds=monitor.layout.bucket_seconds,
                                       lateness_seconds=monitor.layout.lateness_seconds)
        if silent_since is None and self._quiet.first_sight(model_id):
            silent_since = await self._retrain.silence_since(model_id)
        if silent_since is not None:
            alert = silence_alert(model_id, silent_since, event_time, 0.0, "resolved", self._settings.silence_seconds)
            await self._outputs.alerts([alert])
            async with self._leases.hold(model_id):
                await self._retrain.after_alerts(model_id, monitor.retrain, [alert], event_time)

    async def idle(self) -> None:
        """No records for a while: the windows a quiet model's event time has passed by the wall clock close,
        and a model silent for ``silence_seconds`` gets a ``silence`` alert (:class:`QuietModels`); a failure
        is retried at the next idle moment."""
        if self._features_only:
            return
        for model_id, since, quiet in self._quiet.silent():
            monitors = await self._monitors.load({model_id})
            if model_id in monitors:
                alert = silence_alert(model_id, since, since, quiet, "firing", self._settings.silence_seconds)
                await self._outputs.alerts([alert])
                async with self._leases.hold(model_id):
                    await self._retrain.after_alerts(model_id, monitors[model_id].retrain, [alert], since)
            self._quiet.silenced(model_id)
        for model_id, horizon in self._quiet.due():
            monitors = await self._monitors.load({model_id})
            if model_id in monitors:
                monitor = monitors[model_id]
                closed = await self._closer.close_due(monitor, self._expected_partitions(monitor), horizon=horizon)
                if closed:
                    log.info("model %s: no event for %.0fs; closed %d window(s) its event time has passed by the "
                             "clock", model_id, self._settings.idle_close_seconds, closed)
            self._quiet.judged(model_id)

    async def _apply(self, monitor: ModelMonitor, batch: ModelBatch) -> None:
        streams = [OnlineStream(index, monitor.spec.online[index], values, times,
                                monitor.spec.online[index].feature or PREDICTION_FEATURE)
                   for index, (values, times) in batch.online_values.items()]
        online_alerts, states = await self._online.run(monitor.model_id, monitor.reference.version,
                                                       batch.partition, streams)
        if online_alerts:
            await self._outputs.alerts(online_alerts)
            async with self._leases.hold(monitor.model_id):
                await self._retrain.after_alerts(monitor.model_id, monitor.retrain, online_alerts,
                                                 batch.max_event_time)
        if batch.keep_predictions_seconds > 0:
            await self._meet_waiting_labels(monitor, batch)
        layout = BucketLayout(monitor.layout.bucket_seconds, monitor.layout.lateness_seconds,
                              self._expected_partitions(monitor))
        result = await self._store.apply(batch, layout, states)
        if result is ApplyResult.OVERLAPS_WATERMARK:
            # The planner filtered against the watermark it read; a concurrent
            # writer moved it since. Raising makes the whole batch re-plan.
            raise Replan(f"watermark of {batch.model_id} partition {batch.partition} moved during the batch")
        if result is ApplyResult.JOIN_RACE:
            raise Replan(f"a label of {batch.model_id} began waiting for a prediction of this batch")
        if result is ApplyResult.VERSION_PINNED:
            await self._learn_pins(monitor, batch)
            raise Replan(f"a window of {batch.model_id} is binned on an earlier reference version; re-binning on it")
        if self._judge is not None and batch.joins:
            await self._judge.judge(monitor.model_id, monitor.spec, batch.joins, monitor.layout.bucket_seconds)
        if self._features_only:
            await self._store.note_features(monitor.model_id, batch.partition, self._clock())
        elif (batch.features_apart_from is not None and monitor.model_id not in self._features_known
              and not await self._store.expect_features(monitor.model_id, batch.features_apart_from, self._clock())):
            # its features come as FeatureEvents: its windows wait for them (already, or from this batch on)
            self._features_known.add(monitor.model_id)

    async def _learn_pins(self, monitor: ModelMonitor, batch: ModelBatch) -> None:
        """The versions this batch's buckets are binned on, and those versions' references, for the re-plan
        (a window open across a reference switch keeps the version that binned its first events)."""
        pins = await self._store.bucket_versions(monitor.model_id, sorted(batch.buckets))
        references: dict[str, ModelReference | None] = {}
        for version in set(pins.values()) - {monitor.reference.version}:
            references[version] = await self._store.get_reference_version(monitor.model_id, version)
            if references[version] is None:
                log.error("model %s: a window is binned on reference version %s, which is no longer kept; its "
                          "events are dead-lettered", monitor.model_id, version)
        self._pinned[monitor.model_id] = {b: references[v] for b, v in pins.items() if v in references}

    async def _meet_waiting_labels(self, monitor: ModelMonitor, batch: ModelBatch) -> None:
        """Join the labels that came before these predictions (they wait in the store): the joins go with the
        batch's apply, and their predictions are not kept (a label joins a prediction once)."""
        batch.now = self._clock()
        ids = [pid for kept in batch.predictions.values() for pid in kept]
        waiting = await self._store.pending_labels(monitor.model_id, ids)
        if not waiting:
            return
        letters = []
        for kept in batch.predictions.values():
            for pid in [p for p in kept if p in waiting]:
                label, ts, partition, offset = read_waiting_label(waiting[pid])
                stored = kept.pop(pid)
                try:
                    batch.joins.append(join(pid, stored, label, ts, monitor.spec, monitor.layout.bucket_seconds))
                except NotComparable as exc:
                    _, predicted_at, _ = read_stored_prediction(stored)
                    window = int((predicted_at or ts) // monitor.layout.bucket_seconds)
                    batch.joins.append(Join(pid, window, {}))
                    letters.append(DeadLetter(
                        topic=self._settings.topics.labels, partition=partition, offset=offset,
                        reason=f"label cannot be compared with its prediction: {exc}",
                        payload_b64=base64.b64encode(waiting[pid]).decode()))
        await self._outputs.dead_letters(letters)

    async def _apply_warmup(self, batch: WarmupBatch) -> None:
        collected = await self._store.apply_warmup(batch)
        if collected == REFERENCE_EXISTS or collected < 0:
            # Another worker set the reference (or moved the watermark): re-plan the batch with it.
            self._monitors.forget(batch.model_id)
            raise Replan(f"model {batch.model_id} changed during the batch (warm-up); re-planning")
        if collected < self._monitors.spec_for(batch.model_id).warmup_events:
            return
        candidate = warmup_reference(batch.model_id, await self._store.warmup_rows(batch.model_id),
                                     spec=self._monitors.spec_for(batch.model_id))
        # Topic first (the durable copy), then Redis, first writer wins; the winner is what the topic keeps.
        await self._outputs.reference(candidate)
        reference = await self._store.put_reference_if_absent(candidate)
        if reference != candidate:
            await self._outputs.reference(reference)
        self._monitors.forget(batch.model_id)
        log.info("model %s: warm-up reference %s from %d events", batch.model_id, reference.version, collected)

    def _expected_partitions(self, monitor: ModelMonitor) -> int:
        """How many partitions must have carried the model before its windows close: every partition of the
        topic for a model spread over them (unknown yet: more than any), else those that carried it (0)."""
        if not monitor.spec.spread_over_partitions:
            return 0
        return self._topic_partitions() or ALL_PARTITIONS
