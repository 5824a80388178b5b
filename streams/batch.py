"""Turn one batch of raw prediction records into per-(model, partition) sketch increments.

Pure logic (no Kafka, no Redis), so it is unit-tested directly. Invalid records
become dead letters; valid ones are grouped by model and Kafka partition, and
their feature values (and the prediction, as ``__prediction__``) are binned per
event-time window on the reference's bins: numeric values on its edges,
categorical ones on its categories. One numpy pass per (model, partition,
feature), not one per event. For models that join labels, the predictions are
kept too, per UTC day, for the label join.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from driftline.config.events import PREDICTION_FEATURE, DeadLetter, PredictionEvent
from driftline.detectors.reference import AnyFeatureReference, CategoricalReference, ModelReference
from driftline.streams import keys
from driftline.streams.codec import InvalidEvent, dead_letter, decode, loads
from driftline.streams.prediction_fields import fast_prediction_fields

COUNT_FIELD = "__n__"


@dataclass(frozen=True)
class Record:
    """One Kafka message as the batch planner needs it."""

    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    timestamp_ms: int | None = None
    """The record's Kafka timestamp (the producer's clock, or the broker's with LogAppendTime)."""


@dataclass
class ModelBatch:
    """What one Lua call applies for one model from one partition."""

    model_id: str
    partition: int
    min_offset: int
    max_offset: int
    max_event_time: float
    windows: dict[int, dict[str, int]] = field(default_factory=dict)
    predictions: dict[int, dict[str, bytes]] = field(default_factory=dict)
    """Per UTC day (:func:`driftline.streams.keys.prediction_bucket`): prediction_id -> prediction JSON."""
    keep_predictions_seconds: int = 0
    online_values: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """Per online detector (its index in the spec): the finite values fed to it, and their event times."""
    online_states: dict[str, bytes] = field(default_factory=dict)
    """Online detector states to store with this batch (filled by the processor)."""

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
    prediction_ids: list[str] = field(default_factory=list)
    predictions: list[Any] = field(default_factory=list)
    segments: list[dict[str, str] | None] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def add(
        self,
        rec: Record,
        model_id: str,
        ts: float,
        features: dict[str, Any],
        prediction_id: str,
        prediction: Any,
        segment: dict[str, str] | None = None,
    ) -> None:
        self.records.append(rec)
        self.model_ids.append(model_id)
        self.times.append(ts)
        self.features.append(features)
        self.prediction_ids.append(prediction_id)
        self.predictions.append(prediction)
        self.segments.append(segment)


@dataclass(frozen=True)
class ModelIngest:
    """How one model's events are binned: its reference, its window length, and how long its
    predictions are kept for the label join (0: not kept)."""

    reference: ModelReference
    window_seconds: int
    keep_predictions_seconds: int = 0
    segments: tuple[str, ...] = ()
    """Segment keys monitored apart: counts also go to ``<feature>|<key>=<value>`` fields."""
    online: tuple[tuple[int, str | None], ...] = ()
    """Online detectors on real-valued streams: (index in the spec, feature, or None for the prediction)."""


@dataclass
class WarmupBatch:
    """Events of a model still warming up (no reference yet), from one partition: rows for its reference."""

    model_id: str
    partition: int
    min_offset: int
    max_offset: int
    rows: list[bytes]


@dataclass
class BatchPlan:
    model_batches: list[ModelBatch]
    dead_letters: list[DeadLetter]
    warmups: list[WarmupBatch] = field(default_factory=list)


def window_of(ts_seconds: float, window_seconds: int) -> int:
    """Tumbling event-time window id: ``[id * w, (id + 1) * w)``."""
    return int(ts_seconds // window_seconds)


def decode_batch(
    records: Iterable[Record], *, topic: str, max_bytes: int, max_future_seconds: float | None = None
) -> DecodedBatch:
    """Validate every record; the invalid ones become dead letters with the reason.

    The common shape takes the fast structural check; anything else goes through
    the full pydantic schema, which accepts it or names what is wrong. An event
    stamped more than ``max_future_seconds`` after its record's Kafka timestamp
    (a producer's clock far ahead) is refused too: its event time would close
    every open window of its model (see :func:`future_skew`).
    """
    batch = DecodedBatch()
    for rec in records:
        raw = rec.value
        fields = None
        if raw and len(raw) <= max_bytes:
            try:
                fields = fast_prediction_fields(loads(raw))
            except InvalidEvent:
                fields = None  # the full decode below gives the reason
        if fields is None:
            try:
                event = decode(raw, PredictionEvent, max_bytes=max_bytes)
            except InvalidEvent as exc:
                batch.dead_letters.append(_dead(rec, topic, exc.reason))
                continue
            fields = (event.model_id, event.ts.timestamp(), event.features, event.prediction_id, event.prediction,
                      event.segment)
        skew = future_skew(rec, fields[1], max_future_seconds)
        if skew is not None:
            batch.dead_letters.append(_dead(rec, topic, skew))
            continue
        batch.add(rec, *fields)
    return batch


def future_skew(rec: Record, ts: float, max_future_seconds: float | None) -> str | None:
    """Why an event time is too far ahead of its record's timestamp, or None when it is not.

    Judged against the record's own timestamp, not the worker's clock, so a
    replay decides exactly as the first reading did (nothing is first refused,
    then counted). Events stamped in the past are never refused here: the
    windowing rules count them, as late when their window is gone.

    >>> rec = Record(0, 7, b"", timestamp_ms=1_000_000)
    >>> future_skew(rec, 1_000.0 + 300, 300.0) is None
    True
    >>> future_skew(rec, 4_102_444_800.0, 300.0)[:70]
    'event time 2100-01-01T00:00:00+00:00 is 4102443800 s after its record '
    """
    if max_future_seconds is None or rec.timestamp_ms is None or rec.timestamp_ms < 0:
        return None
    ahead = ts - rec.timestamp_ms / 1000
    if ahead <= max_future_seconds:
        return None
    when = datetime.fromtimestamp(ts, tz=UTC).isoformat() if ts < 253_402_300_800 else repr(ts)  # year 10000
    return (f"event time {when} is {ahead:.0f} s after its record was produced (more than the "
            f"{max_future_seconds:.0f} s allowed): is the producer clock wrong?")


def plan_batch(
    decoded: DecodedBatch,
    *,
    topic: str,
    models: Mapping[str, ModelIngest],
    applied: Mapping[tuple[str, int], int] | None = None,
    warming: Collection[str] = (),
) -> BatchPlan:
    """Group valid events by (model, partition) and bin them on the reference's edges.

    ``applied`` maps (model, partition) to the last offset already in Redis;
    records at or below it are skipped (a redelivery after a crash), so the
    plan never double-counts. Events of a model without a reference become warm-up rows when the
    model is ``warming`` up, and dead letters otherwise.
    """
    applied = applied or {}
    dead = list(decoded.dead_letters)
    groups: dict[tuple[str, int], list[int]] = {}
    warm: dict[tuple[str, int], list[int]] = {}
    for i, (rec, model_id) in enumerate(zip(decoded.records, decoded.model_ids, strict=True)):
        if rec.offset <= applied.get((model_id, rec.partition), -1):
            continue
        if model_id in models:
            groups.setdefault((model_id, rec.partition), []).append(i)
        elif model_id in warming:
            warm.setdefault((model_id, rec.partition), []).append(i)
        else:
            dead.append(_dead(rec, topic, f"unknown model {model_id!r}: no reference has been set for it"))
    batches = [
        _bin_group(decoded, model_id, partition, rows, models[model_id])
        for (model_id, partition), rows in groups.items()
    ]
    warmups = [_warmup_rows(decoded, model_id, partition, rows) for (model_id, partition), rows in warm.items()]
    return BatchPlan(model_batches=batches, dead_letters=dead, warmups=warmups)


def _warmup_rows(decoded: DecodedBatch, model_id: str, partition: int, rows: list[int]) -> WarmupBatch:
    offsets = [decoded.records[i].offset for i in rows]
    encoded = [
        orjson.dumps({**decoded.features[i], PREDICTION_FEATURE: _warmup_prediction(decoded.predictions[i])})
        for i in rows
    ]
    return WarmupBatch(model_id, partition, min(offsets), max(offsets), encoded)


def _warmup_prediction(prediction: Any) -> Any:
    """A prediction as a reference profiles it: a probability map as its most likely class."""
    if isinstance(prediction, dict):
        return max(prediction.items(), key=lambda kv: kv[1])[0] if prediction else None
    return prediction


def _dead(rec: Record, topic: str, reason: str) -> DeadLetter:
    return dead_letter(rec.value, reason=reason, topic=topic, partition=rec.partition, offset=rec.offset, key=rec.key)


def _bin_group(decoded: DecodedBatch, model_id: str, partition: int, rows: list[int], model: ModelIngest) -> ModelBatch:
    offsets = np.fromiter((decoded.records[i].offset for i in rows), dtype=np.int64, count=len(rows))
    times = np.fromiter((decoded.times[i] for i in rows), dtype=np.float64, count=len(rows))
    window_ids, local = np.unique(np.floor_divide(times, model.window_seconds).astype(np.int64), return_inverse=True)
    batch = ModelBatch(model_id, partition, int(offsets.min()), int(offsets.max()), float(times.max()))
    per_window = [batch.windows.setdefault(int(w), {}) for w in window_ids]
    for w, n in enumerate(np.bincount(local, minlength=window_ids.size)):
        per_window[w][COUNT_FIELD] = int(n)
    maps = [decoded.features[i] for i in rows]
    groups = _segment_groups(decoded, rows, model.segments)
    for name, feature in model.reference.features.items():
        if name == PREDICTION_FEATURE:
            values = [_prediction_value(decoded.predictions[i], feature) for i in rows]
        else:
            values = [m.get(name) for m in maps]
        bins = _bin_indices(feature, values)
        _add_feature_counts(per_window, name, bins, feature.n_bins, local)
        for segment, mask in groups.items():
            _add_feature_counts(per_window, f"{name}|{segment}", bins[mask], feature.n_bins, local[mask])
    for segment, mask in groups.items():
        for w, n in enumerate(np.bincount(local[mask], minlength=window_ids.size)):
            if n:
                per_window[w][f"{COUNT_FIELD}|{segment}"] = int(n)
    for index, feature_name in model.online:
        if feature_name is None:
            column = _column([p if not isinstance(p, str) else None for p in (decoded.predictions[i] for i in rows)])
        else:
            column = _column([m.get(feature_name) for m in maps])
        finite = np.isfinite(column)
        batch.online_values[index] = (column[finite], times[finite])
    if model.keep_predictions_seconds > 0:
        batch.keep_predictions_seconds = model.keep_predictions_seconds
        for i in rows:
            day = batch.predictions.setdefault(keys.prediction_bucket(decoded.times[i]), {})
            day[decoded.prediction_ids[i]] = orjson.dumps(decoded.predictions[i])
    return batch


def _segment_groups(decoded: DecodedBatch, rows: list[int], segment_keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """``key=value`` -> a mask of the rows in that segment, for each monitored segment key."""
    groups: dict[str, np.ndarray] = {}
    for key in segment_keys:
        values = [(decoded.segments[i] or {}).get(key) for i in rows]
        for value in {v for v in values if v is not None}:
            groups[f"{key}={value}"] = np.fromiter((v == value for v in values), dtype=bool, count=len(values))
    return groups


def _bin_indices(feature: AnyFeatureReference, values: list[Any]) -> np.ndarray:
    """Each value's bin on the reference; -1 for a missing (or, numeric, non-numeric) value."""
    if isinstance(feature, CategoricalReference):
        return feature.bin_indices(values)
    column = _column(values)
    bins = np.searchsorted(np.asarray(feature.edges), column, side="right")
    bins[~np.isfinite(column)] = -1
    return bins


def _add_feature_counts(
    per_window: list[dict[str, int]], name: str, bins: np.ndarray, n_bins: int, local: np.ndarray
) -> None:
    present = bins >= 0
    # One bincount over (window, bin) pairs for all windows of the batch at once; plain ints from here on.
    cells: list[int] = np.bincount(local[present] * n_bins + bins[present],
                                   minlength=len(per_window) * n_bins).tolist()
    nulls: list[int] = np.bincount(local[~present], minlength=len(per_window)).tolist()
    fields = _bin_fields(name, n_bins)
    for w, counts in enumerate(per_window):
        first = w * n_bins
        for b, bin_field in enumerate(fields):
            if cells[first + b]:
                counts[bin_field] = cells[first + b]
        if nulls[w]:
            counts[f"{name}:null"] = nulls[w]


@functools.lru_cache(maxsize=1 << 16)
def _bin_fields(name: str, n_bins: int) -> tuple[str, ...]:
    """The hash fields of a feature's bins, made once (every batch of every model needs them).

    >>> _bin_fields("amount", 3)
    ('amount:0', 'amount:1', 'amount:2')
    """
    return tuple(f"{name}:{b}" for b in range(n_bins))


def _prediction_value(prediction: Any, feature: AnyFeatureReference) -> Any:
    """The prediction as the reference profiles it: a score, or a class (a probability map's argmax)."""
    if isinstance(prediction, dict):
        return _warmup_prediction(prediction) if isinstance(feature, CategoricalReference) else None
    return prediction


def _column(values: list[Any]) -> np.ndarray:
    """Values as float64; missing, null and non-numeric values become NaN."""
    try:
        column = np.array(values, dtype=np.float64)  # None becomes NaN here
    except (TypeError, ValueError):  # a string among the numbers: convert one by one
        column = np.fromiter(map(_as_float, values), dtype=np.float64, count=len(values))
    return column


def _as_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value)
