"""The label processor: late ground truth in, concept-drift alerts out.

Each LabelEvent is joined to the prediction it labels (kept by the prediction
path for models with ``join_labels``, for ``label_ttl_seconds``), turned into a
0/1 error (:func:`driftline.detectors.error_indicator.error_of`) and fed, in
offset order per partition, to the model's error-stream detectors (its spec's
``ddm`` / ``eddm`` / ``hddm_a`` / ``hddm_w``; DDM when it names none). A
detection fires a ``__performance__`` alert; ``resolve_after`` labels without
one resolve it. Per event-time window the joined labels and errors are counted
(the error rate over time).

Exactness follows the prediction path: dead letters and alerts are published
(and acknowledged) first, then one call per (model, partition) applies the
detector states and counts and advances the labels watermark; a replayed batch
decides the same, publishes the same alert ids, and is a no-op in Redis.
Labels whose prediction is not found (expired, never seen, or not yet applied)
are counted as unmatched, not dead-lettered: they are valid, just unusable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import orjson

from driftline.config import (
    PERFORMANCE_FEATURE,
    DeadLetter,
    DriftAlert,
    LabelEvent,
    ModelSpec,
    OnlineDetectorSpec,
    Settings,
)
from driftline.detectors import NotComparable, error_of
from driftline.streams.ingest.decode import Record, decode, record_dead_letter
from driftline.streams.ingest.errors import InvalidEvent, Replan
from driftline.streams.ingest.retry import DEFAULT_DELAYS, Guard, attempts
from driftline.streams.pipeline.model_setup import WindowLayout, policy_of
from driftline.streams.pipeline.online import OnlineRunner, OnlineStream
from driftline.streams.pipeline.outputs import Outputs, Send
from driftline.streams.pipeline.retrain import RetrainStep
from driftline.streams.state import ApplyResult, LabelBatch, LabelStore, ModelLeases

log = logging.getLogger(__name__)

DEFAULT_ERROR_DETECTOR = OnlineDetectorSpec(detector="ddm", stream="error", params={"warm_start": 500})
"""DDM when a spec names no error detector; river's warm start of 30 labels fires on early noise."""
REFERENCE_VERSION = "labels"
"""What a performance alert is compared with: the model's own error rate so far, not a reference."""
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
        self._unmatched_logged = 0.0

    async def process(self, records: Sequence[Record], guard: Guard | None = None) -> None:
        """Apply one batch of labels; returns only when every effect is durable."""
        await attempts("process label batch", lambda: self._process_once(records), guard, self._retry_delays)

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
        for (model_id, partition), labels in sorted(groups.items()):
            fresh = [x for x in labels if x.record.offset > applied.get((model_id, partition), -1)]
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
            if await self._store.apply(batch) is ApplyResult.OVERLAPS_WATERMARK:
                raise Replan(f"labels watermark of {batch.model_id} partition {batch.partition} moved")

    async def _join_and_detect(
        self, model_id: str, partition: int, spec: ModelSpec, labels: list[_Label]
    ) -> tuple[LabelBatch, list[DriftAlert], list[DeadLetter]]:
        offsets = [x.record.offset for x in labels]
        batch = LabelBatch(model_id, partition, min(offsets), max(offsets))
        stamps = [(x.event.prediction_id, x.event.ts.timestamp()) for x in labels]
        found = await self._store.find_predictions(model_id, stamps, spec.label_ttl_seconds)
        bucket = WindowLayout.of(spec.window).bucket_seconds
        errors: list[float] = []
        times: list[float] = []
        letters: list[DeadLetter] = []
        for label in labels:
            raw = found.get(label.event.prediction_id)
            if raw is None:
                batch.unmatched += 1
                continue
            try:
                error = error_of(orjson.loads(raw), label.event.label)
            except NotComparable as exc:
                letters.append(self._dead(label.record, f"label cannot be compared with its prediction: {exc}"))
                continue
            ts = label.event.ts.timestamp()
            errors.append(error)
            times.append(ts)
            window = int(ts // bucket)
            n, wrong = batch.windows.get(window, (0, 0))
            batch.windows[window] = (n + 1, wrong + int(error))
        batch.joined, batch.errors = len(errors), int(sum(errors))
        if batch.unmatched:
            self._log_unmatched(model_id, batch.unmatched)
        detectors = [d for d in spec.online if d.stream == "error"] or [DEFAULT_ERROR_DETECTOR]
        values, stamps_ = np.asarray(errors), np.asarray(times)
        streams = [OnlineStream(i, d, values, stamps_, PERFORMANCE_FEATURE) for i, d in enumerate(detectors)]
        alerts, batch.states = await self._online.run(model_id, REFERENCE_VERSION, partition, streams)
        return batch, alerts, letters

    def _log_unmatched(self, model_id: str, n: int) -> None:
        now = time.monotonic()
        if now - self._unmatched_logged >= 60:
            self._unmatched_logged = now
            log.warning("model %s: %d label(s) without a stored prediction (expired, unknown, or not yet "
                        "applied); counted as unmatched", model_id, n)

    def _dead(self, rec: Record, reason: str) -> DeadLetter:
        return record_dead_letter(rec, self._settings.topics.labels, reason)
