"""The label processor: late ground truth in, joins, performance windows and concept-drift alerts out.

Each LabelEvent (of a model with ``join_labels``) is joined to the prediction it labels, wherever that
prediction is kept (:mod:`.joins`): the pair's counters go to the performance window of the prediction's time.
A label whose prediction is not kept yet waits for it (in the store, bounded, for the model's retention): the
prediction path joins it when the prediction comes. Only a label that waited its whole retention in vain counts
as unmatched. A model's spec may name error-stream detectors (``ddm`` / ``eddm`` / ``hddm_a`` / ``hddm_w``):
they see this path's joined errors in offset order per partition, as early change signals. The performance
alert itself is :mod:`.performance`'s window test.

Exactness follows the prediction path: dead letters and alerts are published (and acknowledged) first, then
one call per (model, partition) applies the joins, the waiting labels and the detector states and advances the
labels watermark; a replayed batch is a no-op in the store, and a join counts only when it removes the
prediction it joins (a second label for one prediction is a duplicate, not a second join).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from driftline.config import (
    PERFORMANCE_FEATURE,
    DeadLetter,
    DriftAlert,
    LabelEvent,
    ModelSpec,
    Settings,
)
from driftline.detectors import NotComparable
from driftline.streams.ingest.decode import Record, decode, record_dead_letter
from driftline.streams.ingest.errors import InvalidEvent, Replan
from driftline.streams.ingest.retry import DEFAULT_DELAYS, Guard, attempts
from driftline.streams.pipeline.joins import join, waiting_label
from driftline.streams.pipeline.model_setup import WindowLayout, policy_of
from driftline.streams.pipeline.online import OnlineRunner, OnlineStream
from driftline.streams.pipeline.outputs import Outputs, Send
from driftline.streams.pipeline.performance import PerformanceJudge
from driftline.streams.pipeline.retrain import RetrainStep
from driftline.streams.state import ApplyResult, LabelBatch, LabelStore, ModelLeases, PendingLabel

log = logging.getLogger(__name__)

REFERENCE_VERSION = "labels"
"""What an error-stream detector's alert is compared with: the model's own error stream so far."""
STATE_PREFIX = "label:"
"""Error-stream detector states sit beside the prediction path's in the model's detector states."""


@dataclass
class _Label:
    record: Record
    event: LabelEvent


class LabelProcessor:
    """Apply batches of label records; like the prediction processor, it retries instead of raising."""

    def __init__(
        self,
        settings: Settings,
        store: LabelStore,
        outputs: Outputs | Send,
        spec_for: Callable[[str], ModelSpec],
        *,
        leases: ModelLeases | None = None,
        retrain: RetrainStep | None = None,
        retry_delays: Sequence[float] = DEFAULT_DELAYS,
        judge: PerformanceJudge | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._outputs = Outputs.of(outputs, settings.topics)
        self._spec_for = spec_for
        if retrain is not None and leases is None:
            raise ValueError("the retrain step runs under the model's lease: give the leases too")
        self._retrain = retrain
        self._leases = leases
        self._online = OnlineRunner(store.detector_states, prefix=STATE_PREFIX)
        self._retry_delays = retry_delays
        self._judge = judge
        self._clock = clock
        self._waiting_logged = -60.0

    async def process(self, records: Sequence[Record], guard: Guard | None = None) -> None:
        """Apply one batch of labels; returns only when every effect is durable."""
        await attempts("process label batch", lambda: self._process_once(records), guard, self._retry_delays)

    async def idle(self) -> None:
        """Nothing time-driven on the label path (waiting labels are counted unmatched by later batches)."""

    async def _process_once(self, records: Sequence[Record]) -> None:
        letters: list[DeadLetter] = []
        groups: dict[tuple[str, int], list[_Label]] = {}
        for rec in records:
            try:
                event = decode(rec.value, LabelEvent, max_bytes=self._settings.max_event_bytes)
            except InvalidEvent as exc:
                letters.append(self._dead(rec, exc.reason))
                continue
            groups.setdefault((event.model_id, rec.partition), []).append(_Label(rec, event))
        applied = await self._store.applied_offsets(sorted(groups))
        batches: list[LabelBatch] = []
        alerts: dict[str, list[DriftAlert]] = {}
        replayed: set[str] = set()
        for (model_id, partition), labels in sorted(groups.items()):
            fresh = [x for x in labels if x.record.offset > applied.get((model_id, partition), -1)]
            if len(fresh) < len(labels):
                replayed.add(model_id)
            if not fresh:
                continue
            spec = self._spec_for(model_id)
            if not spec.join_labels:
                reason = (f"labels of model {model_id!r} are not joined: its spec (or the worker's --join-labels) "
                          "does not keep its predictions")
                letters += [self._dead(x.record, reason) for x in fresh]
                continue
            batch, model_alerts, bad = await self._join_and_detect(model_id, partition, spec, fresh)
            letters += bad
            batches.append(batch)
            alerts.setdefault(model_id, []).extend(model_alerts)
        await self._outputs.dead_letters(letters)
        await self._outputs.alerts([a for model_alerts in alerts.values() for a in model_alerts])
        if self._retrain is not None and self._leases is not None:
            for model_id, model_alerts in alerts.items():
                if model_alerts:
                    now = max(a.window.end.timestamp() for a in model_alerts)
                    policy = policy_of(self._spec_for(model_id).retrain_policy)
                    async with self._leases.hold(model_id):  # the windows' closer decides retraining too
                        await self._retrain.after_alerts(model_id, policy, model_alerts, now)
        for batch in batches:
            result = await self._store.apply(batch)
            if result is ApplyResult.OVERLAPS_WATERMARK:
                raise Replan(f"labels watermark of {batch.model_id} partition {batch.partition} moved")
            if result is ApplyResult.JOIN_RACE:
                raise Replan(f"a prediction of {batch.model_id} arrived while its label was planned to wait")
            if self._judge is not None and batch.joins:
                spec = self._spec_for(batch.model_id)
                await self._judge.judge(batch.model_id, spec, batch.joins, WindowLayout.of(spec.window).bucket_seconds)
        await self._judge_replayed(replayed - {b.model_id for b in batches if b.joins})

    async def _judge_replayed(self, model_ids: set[str]) -> None:
        """Labels redelivered after a crash are skipped (their joins are in), but the crash may have come before
        their windows were judged: the judge looks at every window not judged yet (it is idempotent)."""
        for model_id in sorted(model_ids):
            spec = self._spec_for(model_id)
            if self._judge is not None and spec.join_labels:
                await self._judge.judge(model_id, spec, [], WindowLayout.of(spec.window).bucket_seconds)

    async def _join_and_detect(
        self, model_id: str, partition: int, spec: ModelSpec, labels: list[_Label]
    ) -> tuple[LabelBatch, list[DriftAlert], list[DeadLetter]]:
        offsets = [x.record.offset for x in labels]
        now = self._clock()
        retention = int(spec.label_ttl_seconds)
        batch = LabelBatch(model_id, partition, min(offsets), max(offsets), now=now,
                           max_pending=spec.performance.max_pending_labels, retention_seconds=retention)
        found, batch.days = await self._store.find_predictions(model_id, [x.event.prediction_id for x in labels], now)
        bucket = WindowLayout.of(spec.window).bucket_seconds
        errors: list[float] = []
        times: list[float] = []
        letters: list[DeadLetter] = []
        for label in labels:
            pid, ts = label.event.prediction_id, label.event.ts.timestamp()
            kept = found.get(pid)
            if kept is None:
                batch.pending.append(PendingLabel(pid, waiting_label(label.event.label, ts, partition,
                                                                     label.record.offset), now + retention))
                continue
            try:
                joined = join(pid, kept.value, label.event.label, ts, spec, bucket, day=kept.day)
            except NotComparable as exc:
                letters.append(self._dead(label.record, f"label cannot be compared with its prediction: {exc}"))
                continue
            batch.joins.append(joined)
            if "err" in joined.counts:
                errors.append(float(joined.counts["err"]))
                times.append(ts)
        if batch.pending:
            self._log_waiting(model_id, len(batch.pending))
        detectors = [d for d in spec.online if d.stream == "error"]
        values, stamps_ = np.asarray(errors), np.asarray(times)
        streams = [OnlineStream(i, d, values, stamps_, PERFORMANCE_FEATURE) for i, d in enumerate(detectors)]
        alerts, batch.states = await self._online.run(model_id, REFERENCE_VERSION, partition, streams)
        return batch, alerts, letters

    def _log_waiting(self, model_id: str, n: int) -> None:
        now = time.monotonic()
        if now - self._waiting_logged >= 60:
            self._waiting_logged = now
            log.info("model %s: %d label(s) came before their prediction and wait for it (driftline status shows "
                     "how many wait)", model_id, n)

    def _dead(self, rec: Record, reason: str) -> DeadLetter:
        return record_dead_letter(rec, self._settings.topics.labels, reason)
