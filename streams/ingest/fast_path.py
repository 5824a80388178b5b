"""A fast structural check of a decoded PredictionEvent, for the hot path.

Validating every event with pydantic costs ~10 µs; this check costs ~1 µs and
accepts only what the PredictionEvent schema accepts in its common shape
(numeric epoch or ISO time with a zone, plain feature values, no segment).
Anything else returns None and goes through the full schema, which either
accepts it or gives the dead letter its precise reason. A test checks that the
two never disagree on acceptance.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple

_MODEL_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_FEATURE_TYPES = frozenset({float, int, str, type(None)})
_PREDICTION_TYPES = (float, int, str)


class PredictionFields(NamedTuple):
    model_id: str
    ts: float
    features: dict[str, Any]
    prediction_id: str
    prediction: float | int | str


def fast_prediction_fields(data: Any) -> PredictionFields | None:
    if type(data) is not dict or data.get("schema_version", 1) != 1 or data.get("segment") is not None:
        return None
    model_id, features = data.get("model_id"), data.get("features")
    if type(model_id) is not str or not _MODEL_ID.fullmatch(model_id) or type(features) is not dict:
        return None
    if not (_name_ok(data.get("model_version")) and _name_ok(data.get("prediction_id"))):
        return None
    prediction = data.get("prediction")
    if not isinstance(prediction, _PREDICTION_TYPES) or type(prediction) is bool:
        return None
    if not set(map(type, features.values())) <= _FEATURE_TYPES:
        return None
    if features and ("" in features or max(map(len, features)) > 256):
        return None
    ts = _epoch_seconds(data.get("ts"))
    return None if ts is None else PredictionFields(model_id, ts, features, data["prediction_id"], prediction)


def _name_ok(value: object) -> bool:
    return type(value) is str and 0 < len(value) <= 256


def _epoch_seconds(value: object) -> float | None:
    if type(value) in (int, float):
        # pydantic reads numbers above 2e10 as milliseconds; leave those to it.
        return float(value) if 0 <= value < 2e10 else None  # type: ignore[operator,arg-type]
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed.timestamp() if parsed.tzinfo is not None else None
    return None
