"""Plan one decoded batch of predictions: per-(model, partition) bucket counts on the reference's bins.

Pure logic (no Kafka, no Redis), so it is unit-tested directly. Valid records
(decoded by :mod:`driftline.streams.ingest.decode`) are grouped by model and Kafka partition, and
their feature values (and the prediction, as ``__prediction__``) are binned per
event-time bucket on the reference's bins: numeric values on its edges,
categorical ones on its categories. One numpy pass per (model, partition,
feature), not one per event. For models that join labels, the predictions are
kept too (with their event time), per UTC day of their record's timestamp, for the label join.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from driftline.config import PREDICTION_FEATURE, DeadLetter, class_feature, class_of, segment_key, top_class
from driftline.detectors import (
    NULL_BIN,
    OUT_OF_RANGE_BIN,
    UNSEEN_NAMED_PER_BATCH,
    WRONG_TYPE_BIN,
    AnyFeatureReference,
    CategoricalReference,
    ModelReference,
    category_name,
    numeric_values,
    unseen_bin,
)
from driftline.streams.ingest.decode import DecodedBatch, record_dead_letter
from driftline.streams.state import (
    COUNT_FIELD,
    ModelBatch,
    WarmupBatch,
    features_partition,
    prediction_bucket,
    stored_prediction,
)

__all__ = ["COUNT_FIELD", "BatchPlan", "ModelBatch", "ModelIngest", "WarmupBatch", "plan_batch"]


@dataclass(frozen=True)
class ModelIngest:
    """How one model's events are binned: its reference, its bucket length, and how long its
    predictions are kept for the label join (0: not kept)."""

    reference: ModelReference
    bucket_seconds: int
    keep_predictions_seconds: int = 0
    segments: tuple[str, ...] = ()
    """Segment keys monitored apart: counts also go to ``<feature>|<key>=<value>`` fields."""
    online: tuple[tuple[int, str | None], ...] = ()
    """Online detectors on real-valued streams: (index in the spec, feature, or None for the prediction)."""


@dataclass
class BatchPlan:
    model_batches: list[ModelBatch]
    dead_letters: list[DeadLetter]
    warmups: list[WarmupBatch] = field(default_factory=list)


def plan_batch(
    decoded: DecodedBatch,
    *,
    topic: str,
    models: Mapping[str, ModelIngest],
    applied: Mapping[tuple[str, int], int] | None = None,
    warming: Collection[str] = (),
    pinned: Mapping[str, Mapping[int, ModelReference | None]] | None = None,
) -> BatchPlan:
    """Group valid events by (model, partition) and bin them on the reference's edges — or, for a bucket
    ``pinned`` to another version (binned on it before a switch), on that version's (None: that version is no
    longer kept, and its events are dead-lettered rather than binned on edges they were not counted on).

    ``applied`` maps (model, partition) to the last offset already in Redis;
    records at or below it are skipped (a redelivery after a crash), so the
    plan never double-counts. Events of a model without a reference become warm-up rows when the
    model is ``warming`` up, and dead letters otherwise.
    """
    applied = applied or {}
    dead = list(decoded.dead_letters)
    groups: dict[tuple[str, int], list[int]] = {}
    warm: dict[tuple[str, int], list[int]] = {}
    pinned = pinned or {}
    for i, (rec, model_id) in enumerate(zip(decoded.records, decoded.model_ids, strict=True)):
        partition = state_partition(decoded, rec.partition)
        if rec.offset <= applied.get((model_id, partition), -1):
            continue
        if model_id in pinned and model_id in models:
            pin = pinned[model_id]
            bucket = int(decoded.times[i] // models[model_id].bucket_seconds)
            if bucket in pin and pin[bucket] is None:
                dead.append(record_dead_letter(rec, topic, f"its window of model {model_id!r} is binned on a "
                                               "reference version no longer kept"))
                continue
        if model_id in models:
            groups.setdefault((model_id, partition), []).append(i)
        elif model_id in warming and not decoded.features_only:
            warm.setdefault((model_id, partition), []).append(i)
        elif model_id in warming:
            dead.append(record_dead_letter(rec, topic, f"model {model_id!r} is warming up on its predictions: "
                                                       "FeatureEvents count once it has a reference"))
        else:
            dead.append(record_dead_letter(rec, topic, f"unknown model {model_id!r}: no reference has been set for it"))
    batches = [
        _bin_group(decoded, model_id, partition, rows, models[model_id], pinned.get(model_id, {}))
        for (model_id, partition), rows in groups.items()
    ]
    warmups = [_warmup_rows(decoded, model_id, partition, rows) for (model_id, partition), rows in warm.items()]
    return BatchPlan(model_batches=batches, dead_letters=dead, warmups=warmups)


def state_partition(decoded: DecodedBatch, partition: int) -> int:
    """Where a record's partition keeps its watermark: the features topic's apart from the predictions'."""
    return features_partition(partition) if decoded.features_only else partition


def _warmup_rows(decoded: DecodedBatch, model_id: str, partition: int, rows: list[int]) -> WarmupBatch:
    offsets = [decoded.records[i].offset for i in rows]
    encoded = [orjson.dumps({**decoded.features[i], **_warmup_prediction_columns(decoded.predictions[i])})
               for i in rows]
    return WarmupBatch(model_id, partition, min(offsets), max(offsets), encoded)


def _warmup_prediction(prediction: Any) -> Any:
    """A prediction as a reference profiles it: a probability map as its most likely class."""
    return top_class(prediction) if isinstance(prediction, dict) else prediction


def _warmup_prediction_columns(prediction: Any) -> dict[str, Any]:
    """The prediction's columns of a warm-up row: ``__prediction__`` (a probability map's most likely class),
    and each class's probability as ``__prediction__[<class>]``.

    >>> _warmup_prediction_columns({"cat": 0.7, "dog": 0.3})
    {'__prediction__': 'cat', '__prediction__[cat]': 0.7, '__prediction__[dog]': 0.3}
    """
    columns = {PREDICTION_FEATURE: _warmup_prediction(prediction)}
    if isinstance(prediction, dict):
        columns.update({class_feature(str(c)): p for c, p in prediction.items()})
    return columns


def _bin_group(decoded: DecodedBatch, model_id: str, partition: int, rows: list[int], model: ModelIngest,
               pinned: Mapping[int, ModelReference | None] | None = None) -> ModelBatch:
    offsets = np.fromiter((decoded.records[i].offset for i in rows), dtype=np.int64, count=len(rows))
    times = np.fromiter((decoded.times[i] for i in rows), dtype=np.float64, count=len(rows))
    bucket_ids, local = np.unique(np.floor_divide(times, model.bucket_seconds).astype(np.int64), return_inverse=True)
    batch = ModelBatch(model_id, partition, int(offsets.min()), int(offsets.max()), float(times.max()))
    batch.versions = dict.fromkeys((int(b) for b in bucket_ids), model.reference.version)
    _bin_rows(decoded, rows, model, batch, bucket_ids, local, times)
    for w, bucket in enumerate(bucket_ids.tolist()):
        older = (pinned or {}).get(bucket)
        if older is not None and older.version != model.reference.version:  # binned on it before a switch
            sub = [r for r, at in zip(rows, local.tolist(), strict=True) if at == w]
            again = _bin_group(decoded, model_id, partition, sub, dataclasses.replace(model, reference=older))
            batch.buckets[bucket], batch.versions[bucket] = again.buckets[bucket], older.version
    return batch


def _bin_rows(decoded: DecodedBatch, rows: list[int], model: ModelIngest, batch: ModelBatch, bucket_ids: np.ndarray,
              local: np.ndarray, times: np.ndarray) -> None:
    per_bucket = [batch.buckets.setdefault(int(b), {}) for b in bucket_ids]
    for w, n in enumerate(np.bincount(local, minlength=bucket_ids.size)):
        per_bucket[w][COUNT_FIELD] = int(n)
    maps = [decoded.features[i] for i in rows]
    groups = _segment_groups(decoded, rows, model.segments)
    # A prediction event with no features at all sends them elsewhere (FeatureEvents): it counts for the
    # prediction, never as missing every feature.
    carrying = None if decoded.features_only else np.fromiter(map(bool, maps), dtype=bool, count=len(rows))
    if carrying is not None and carrying.all():
        carrying = None
    if carrying is not None:
        batch.features_apart_from = float(times[~carrying].min())
    for name, feature in model.reference.features.items():
        prediction_side = name == PREDICTION_FEATURE or class_of(name) is not None
        if prediction_side and decoded.features_only:
            continue
        if name == PREDICTION_FEATURE:
            values = [_prediction_value(decoded.predictions[i], feature) for i in rows]
        elif (cls := class_of(name)) is not None:  # one class's probability, of a probability-map prediction
            values = [p.get(cls) if isinstance(p := decoded.predictions[i], dict) else None for i in rows]
        else:
            values = [m.get(name) for m in maps]
        binned = _bin_values(feature, values)
        only = None if prediction_side else carrying
        _add_feature_counts(per_bucket, name, binned, feature.n_bins, local, only, named=True)
        for segment, mask in groups.items():
            _add_feature_counts(per_bucket, segment_key(name, segment), binned, feature.n_bins, local,
                                mask if only is None else mask & only)
    for segment, mask in groups.items():
        for w, n in enumerate(np.bincount(local[mask], minlength=bucket_ids.size)):
            if n:
                per_bucket[w][f"{COUNT_FIELD}|{segment}"] = int(n)
    for index, feature_name in model.online:
        if feature_name is None and decoded.features_only:
            continue
        if feature_name is None:
            column = _column([p if not isinstance(p, str) else None for p in (decoded.predictions[i] for i in rows)])
        else:
            column = _column([m.get(feature_name) for m in maps])
        finite = np.isfinite(column)
        batch.online_values[index] = (column[finite], times[finite])
    if model.keep_predictions_seconds > 0 and not decoded.features_only:
        _keep_predictions(batch, decoded, rows, model, bucket_ids, local)


def _keep_predictions(batch: ModelBatch, decoded: DecodedBatch, rows: list[int], model: ModelIngest,
                      bucket_ids: np.ndarray, local: np.ndarray) -> None:
    """Keep each prediction (with its event time and segment) under the day its record was stored, for the
    label join, and count the predictions per performance window (a bucket, by the prediction's time)."""
    batch.keep_predictions_seconds = model.keep_predictions_seconds
    for w, n in enumerate(np.bincount(local, minlength=bucket_ids.size)):
        if n:
            batch.predicted[int(bucket_ids[w])] = int(n)
    for i in rows:
        stamp = decoded.records[i].timestamp_ms
        stored_at = stamp / 1000 if stamp is not None and stamp >= 0 else decoded.times[i]
        segment = decoded.segments[i]
        if segment is not None and model.segments:
            segment = {k: v for k, v in segment.items() if k in model.segments} or None
        else:
            segment = None
        day = batch.predictions.setdefault(prediction_bucket(stored_at), {})
        day[decoded.prediction_ids[i]] = stored_prediction(decoded.predictions[i], decoded.times[i], segment)


def _segment_groups(decoded: DecodedBatch, rows: list[int], segment_keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """``key=value`` -> a mask of the rows in that segment, for each monitored segment key."""
    groups: dict[str, np.ndarray] = {}
    for key in segment_keys:
        values = [(decoded.segments[i] or {}).get(key) for i in rows]
        for value in {v for v in values if v is not None}:
            groups[f"{key}={value}"] = np.fromiter((v == value for v in values), dtype=bool, count=len(values))
    return groups


@dataclass(frozen=True)
class _Binned:
    """A feature's values of a batch on the reference's bins (-1: missing or of the wrong type), and the
    data-quality marks the bins cannot show: wrong types, values outside the reference's range, and the
    values of categories the reference does not list (by name)."""

    bins: np.ndarray
    wrong: np.ndarray | None = None
    out: np.ndarray | None = None
    unseen: list[tuple[int, str]] | None = None
    """(row, category name) of each value binned ``__other__``."""


def _bin_values(feature: AnyFeatureReference, values: list[Any]) -> _Binned:
    if isinstance(feature, CategoricalReference):
        bins = feature.bin_indices(values)
        other = np.flatnonzero(bins == len(feature.categories))
        names = [(int(i), category_name(values[i])) for i in other.tolist()] if other.size else None
        return _Binned(bins, unseen=names)
    column, wrong = numeric_values(values)
    bins = np.searchsorted(np.asarray(feature.edges), column, side="right")
    finite = np.isfinite(column)
    bins[~finite] = -1
    out = None
    if feature.low is not None and feature.high is not None:
        outside = finite & ((column < feature.low) | (column > feature.high))
        out = outside if outside.any() else None
    return _Binned(bins, wrong, out)


def _add_feature_counts(per_bucket: list[dict[str, int]], name: str, binned: _Binned, n_bins: int,
                        local: np.ndarray, mask: np.ndarray | None = None, *, named: bool = False) -> None:
    """Add one feature's counts per bucket (of the rows in ``mask``; None: all): its bins, missing values
    (``null``), values of the wrong type (``type``), values outside the reference's range (``out``), and when
    ``named`` (the feature's own level, not a segment's) the most frequent unseen categories of each bucket."""
    bins = binned.bins if mask is None else binned.bins[mask]
    rows = local if mask is None else local[mask]
    present = bins >= 0
    # One bincount over (bucket, bin) pairs for all buckets of the batch at once; plain ints from here on.
    cells: list[int] = np.bincount(rows[present] * n_bins + bins[present], minlength=len(per_bucket) * n_bins).tolist()
    wrong = binned.wrong if mask is None or binned.wrong is None else binned.wrong[mask]
    absent = ~present if wrong is None else ~present & ~wrong
    nulls: list[int] = np.bincount(rows[absent], minlength=len(per_bucket)).tolist()
    fields = _bin_fields(name, n_bins)
    for w, counts in enumerate(per_bucket):
        first = w * n_bins
        for b, bin_field in enumerate(fields):
            if cells[first + b]:
                counts[bin_field] = cells[first + b]
        if nulls[w]:
            counts[f"{name}:{NULL_BIN}"] = nulls[w]
    for marks, bin_name in ((wrong, WRONG_TYPE_BIN), (binned.out if mask is None or binned.out is None
                                                      else binned.out[mask], OUT_OF_RANGE_BIN)):
        if marks is not None and marks.any():
            for w, n in enumerate(np.bincount(rows[marks], minlength=len(per_bucket)).tolist()):
                if n:
                    per_bucket[w][f"{name}:{bin_name}"] = n
    if named and binned.unseen:
        by_bucket: dict[int, Counter[str]] = {}
        for row, category in binned.unseen:
            if mask is not None and not mask[row]:
                continue
            by_bucket.setdefault(int(local[row]), Counter())[category] += 1
        for w, categories in by_bucket.items():
            for category, n in categories.most_common(UNSEEN_NAMED_PER_BATCH):
                per_bucket[w][f"{name}:{unseen_bin(category)}"] = n


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
    """Values as float64; missing, null and wrong-typed values become NaN."""
    return numeric_values(values).column
