"""Turn one batch of raw prediction records into per-(model, partition) sketch increments.

Pure logic (no Kafka, no Redis), so it is unit-tested directly. Invalid records
become dead letters; valid ones are grouped by model, Kafka partition and
event-time window, and their feature values are binned on the reference's edges
with numpy, one vectorised call per (window, feature).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from driftline.config.events import DeadLetter, PredictionEvent
from driftline.detectors.reference import ModelReference
from driftline.streams.codec import InvalidEvent, dead_letter, decode

COUNT_FIELD = "__n__"


@dataclass(frozen=True)
class Record:
    """One Kafka message as the batch planner needs it."""

    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None


@dataclass
class ModelBatch:
    """What one Lua call applies for one model from one partition."""

    model_id: str
    partition: int
    min_offset: int
    max_offset: int
    max_event_time: float
    windows: dict[int, dict[str, int]] = field(default_factory=dict)

    @property
    def n_events(self) -> int:
        return sum(counts.get(COUNT_FIELD, 0) for counts in self.windows.values())


@dataclass
class DecodedBatch:
    events: list[tuple[Record, PredictionEvent]]
    dead_letters: list[DeadLetter]

    @property
    def model_ids(self) -> set[str]:
        return {event.model_id for _, event in self.events}


@dataclass
class BatchPlan:
    model_batches: list[ModelBatch]
    dead_letters: list[DeadLetter]


def window_of(ts_seconds: float, window_seconds: int) -> int:
    """Tumbling event-time window id: ``[id * w, (id + 1) * w)``."""
    return int(ts_seconds // window_seconds)


def decode_batch(records: Iterable[Record], *, topic: str, max_bytes: int) -> DecodedBatch:
    """Validate every record; the invalid ones become dead letters with the reason."""
    batch = DecodedBatch(events=[], dead_letters=[])
    for rec in records:
        try:
            batch.events.append((rec, decode(rec.value, PredictionEvent, max_bytes=max_bytes)))
        except InvalidEvent as exc:
            batch.dead_letters.append(_dead(rec, topic, exc.reason))
    return batch


def plan_batch(
    decoded: DecodedBatch,
    *,
    topic: str,
    references: Mapping[str, ModelReference],
    window_seconds: int,
    applied: Mapping[tuple[str, int], int] | None = None,
) -> BatchPlan:
    """Group valid events by (model, partition) and bin them on the reference's edges.

    ``applied`` maps (model, partition) to the last offset already in Redis;
    records at or below it are skipped (a redelivery after a crash), so the
    plan never double-counts. Events of a model without a reference are dead-lettered.
    """
    applied = applied or {}
    dead = list(decoded.dead_letters)
    grouped: dict[tuple[str, int], list[tuple[int, PredictionEvent]]] = defaultdict(list)
    for rec, event in decoded.events:
        if event.model_id not in references:
            dead.append(_dead(rec, topic, f"unknown model {event.model_id!r}: no reference has been set for it"))
        elif rec.offset > applied.get((event.model_id, rec.partition), -1):
            grouped[(event.model_id, rec.partition)].append((rec.offset, event))
    batches = [
        _bin_model_events(model_id, partition, events, references[model_id], window_seconds)
        for (model_id, partition), events in grouped.items()
    ]
    return BatchPlan(model_batches=batches, dead_letters=dead)


def _dead(rec: Record, topic: str, reason: str) -> DeadLetter:
    return dead_letter(rec.value, reason=reason, topic=topic, partition=rec.partition, offset=rec.offset, key=rec.key)


def _bin_model_events(
    model_id: str,
    partition: int,
    events: list[tuple[int, PredictionEvent]],
    reference: ModelReference,
    window_seconds: int,
) -> ModelBatch:
    offsets = np.fromiter((off for off, _ in events), dtype=np.int64, count=len(events))
    times = np.fromiter((ev.ts.timestamp() for _, ev in events), dtype=np.float64, count=len(events))
    window_ids = np.floor_divide(times, window_seconds).astype(np.int64)
    batch = ModelBatch(
        model_id=model_id,
        partition=partition,
        min_offset=int(offsets.min()),
        max_offset=int(offsets.max()),
        max_event_time=float(times.max()),
    )
    for name, feature in reference.features.items():
        # Missing, null or non-numeric values become NaN and are counted apart.
        raw = (_as_float(ev.features.get(name)) for _, ev in events)
        values = np.fromiter(raw, dtype=np.float64, count=len(events))
        for window_id in np.unique(window_ids):
            in_window = values[window_ids == window_id]
            counts = batch.windows.setdefault(int(window_id), {})
            for bin_index, count in enumerate(feature.bin_counts(in_window)):
                if count:
                    counts[f"{name}:{bin_index}"] = int(count)
            nulls = int(np.count_nonzero(~np.isfinite(in_window)))
            if nulls:
                counts[f"{name}:null"] = nulls
    for window_id, n in zip(*np.unique(window_ids, return_counts=True), strict=True):
        batch.windows.setdefault(int(window_id), {})[COUNT_FIELD] = int(n)
    return batch


def _as_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value)
