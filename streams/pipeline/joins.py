"""A label meets its prediction: the join both paths make, whichever of the two arrived first.

The label path joins a label to a kept prediction (:class:`~driftline.streams.pipeline.labels.LabelProcessor`);
the prediction path joins a prediction to the label that came first and waits for it
(:class:`~driftline.streams.pipeline.predictions.PredictionProcessor`). Both turn the pair into the same
:class:`~driftline.streams.state.Join`: the counters of :func:`driftline.detectors.performance.outcome`, added to
the performance window of the *prediction's* event time, so a window's performance is that of the predictions
made in it, whenever their labels come.
"""

from __future__ import annotations

from typing import Any

import orjson

from driftline.config import ModelSpec
from driftline.detectors import outcome
from driftline.streams.state import Join, read_stored_prediction


def join(prediction_id: str, stored: bytes, label: Any, label_ts: float, spec: ModelSpec, bucket_seconds: int,
         *, day: int | None = None) -> Join:
    """The join of a kept prediction (:func:`~driftline.streams.state.stored_prediction`) and its label;
    :class:`~driftline.detectors.NotComparable` when the two cannot be compared.

    >>> from driftline.streams.state import stored_prediction
    >>> j = join("p1", stored_prediction(0.9, 120.0, None), 0, 4000.0, ModelSpec(), 60)
    >>> j.window_id, dict(j.counts)["err"], j.lag_seconds
    (2, 1, 3880.0)
    """
    prediction, predicted_at, segment = read_stored_prediction(stored)
    counts: dict[str, float] = outcome(prediction, label, task=spec.performance.task,
                                       threshold=spec.performance.decision_threshold)
    for key, value in sorted((segment or {}).items()):  # each segment's own counters, beside the model's
        counts |= {f"{key}={value}|{name}": n for name, n in list(counts.items()) if "|" not in name}
    at = predicted_at if predicted_at is not None else label_ts  # kept before predictions carried their time
    lag = label_ts - predicted_at if predicted_at is not None else None
    return Join(prediction_id, int(at // bucket_seconds), counts, day=day, lag_seconds=lag)


def waiting_label(label: Any, label_ts: float, partition: int, offset: int) -> bytes:
    """A label kept waiting for its prediction: the label, its time, and where it came from (for a dead letter
    if it turns out not comparable).

    >>> read_waiting_label(waiting_label("fraud", 60.0, 2, 17))
    ('fraud', 60.0, 2, 17)
    """
    return orjson.dumps([label, label_ts, partition, offset])


def read_waiting_label(raw: bytes) -> tuple[Any, float, int, int]:
    label, ts, partition, offset = orjson.loads(raw)
    return label, float(ts), int(partition), int(offset)
