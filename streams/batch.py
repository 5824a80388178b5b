"""Turn one batch of raw prediction records into per-(model, partition) sketch increments.

Pure logic (no Kafka, no Redis), so it is unit-tested directly. Invalid records
become dead letters; valid ones are grouped by model and Kafka partition, and
their feature values are binned per event-time window on the reference's
edges: one numpy pass per (model, partition, feature), not one per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from driftline.config.events import DeadLetter, PredictionEvent
from driftline.detectors.reference import FeatureReference, ModelReference
from driftline.streams.codec import InvalidEvent, dead_letter, decode
from driftline.streams.prediction_fields import fast_prediction_fields

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
    """Valid records as columns (model, event time, features), and the dead letters."""

    records: list[Record] = field(default_factory=list)
    model_ids: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def add(self, rec: Record, model_id: str, ts: float, features: dict[str, Any]) -> None:
        self.records.append(rec)
        self.model_ids.append(model_id)
        self.times.append(ts)
        self.features.append(features)


@dataclass
class BatchPlan:
    model_batches: list[ModelBatch]
    dead_letters: list[DeadLetter]


def window_of(ts_seconds: float, window_seconds: int) -> int:
    """Tumbling event-time window id: ``[id * w, (id + 1) * w)``."""
    return int(ts_seconds // window_seconds)


def decode_batch(records: Iterable[Record], *, topic: str, max_bytes: int) -> DecodedBatch:
    """Validate every record; the invalid ones become dead letters with the reason.

    The common shape takes the fast structural check; anything else goes through
    the full pydantic schema, which accepts it or names what is wrong.
    """
    batch = DecodedBatch()
    for rec in records:
        raw = rec.value
        if raw and len(raw) <= max_bytes:
            try:
                fields = fast_prediction_fields(orjson.loads(raw))
            except orjson.JSONDecodeError:
                fields = None
            if fields is not None:
                batch.add(rec, *fields)
                continue
        try:
            event = decode(raw, PredictionEvent, max_bytes=max_bytes)
        except InvalidEvent as exc:
            batch.dead_letters.append(_dead(rec, topic, exc.reason))
            continue
        batch.add(rec, event.model_id, event.ts.timestamp(), event.features)
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
    groups: dict[tuple[str, int], list[int]] = {}
    for i, (rec, model_id) in enumerate(zip(decoded.records, decoded.model_ids, strict=True)):
        if model_id not in references:
            dead.append(_dead(rec, topic, f"unknown model {model_id!r}: no reference has been set for it"))
        elif rec.offset > applied.get((model_id, rec.partition), -1):
            groups.setdefault((model_id, rec.partition), []).append(i)
    batches = [
        _bin_group(decoded, model_id, partition, rows, references[model_id], window_seconds)
        for (model_id, partition), rows in groups.items()
    ]
    return BatchPlan(model_batches=batches, dead_letters=dead)


def _dead(rec: Record, topic: str, reason: str) -> DeadLetter:
    return dead_letter(rec.value, reason=reason, topic=topic, partition=rec.partition, offset=rec.offset, key=rec.key)


def _bin_group(
    decoded: DecodedBatch,
    model_id: str,
    partition: int,
    rows: list[int],
    reference: ModelReference,
    window_seconds: int,
) -> ModelBatch:
    offsets = np.fromiter((decoded.records[i].offset for i in rows), dtype=np.int64, count=len(rows))
    times = np.fromiter((decoded.times[i] for i in rows), dtype=np.float64, count=len(rows))
    window_ids, local = np.unique(np.floor_divide(times, window_seconds).astype(np.int64), return_inverse=True)
    batch = ModelBatch(model_id, partition, int(offsets.min()), int(offsets.max()), float(times.max()))
    per_window = [batch.windows.setdefault(int(w), {}) for w in window_ids]
    for w, n in enumerate(np.bincount(local, minlength=window_ids.size)):
        per_window[w][COUNT_FIELD] = int(n)
    maps = [decoded.features[i] for i in rows]
    for name, feature in reference.features.items():
        _add_feature_counts(per_window, name, feature, _column(maps, name), local)
    return batch


def _add_feature_counts(
    per_window: list[dict[str, int]], name: str, feature: FeatureReference, values: np.ndarray, local: np.ndarray
) -> None:
    finite = np.isfinite(values)
    bins = np.searchsorted(np.asarray(feature.edges), values[finite], side="right")
    # One bincount over (window, bin) pairs for all windows of the batch at once.
    cells = np.bincount(local[finite] * feature.n_bins + bins, minlength=len(per_window) * feature.n_bins)
    nulls = np.bincount(local[~finite], minlength=len(per_window))
    for w, counts in enumerate(per_window):
        row = cells[w * feature.n_bins : (w + 1) * feature.n_bins]
        for b in np.flatnonzero(row):
            counts[f"{name}:{b}"] = int(row[b])
        if nulls[w]:
            counts[f"{name}:null"] = int(nulls[w])


def _column(maps: list[dict[str, Any]], name: str) -> np.ndarray:
    """One feature over the rows as float64; missing, null and non-numeric values become NaN."""
    values = [m.get(name) for m in maps]
    try:
        column = np.array(values, dtype=np.float64)  # None becomes NaN here
    except (TypeError, ValueError):  # a string among the numbers: convert one by one
        column = np.fromiter(map(_as_float, values), dtype=np.float64, count=len(values))
    return column


def _as_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value)
