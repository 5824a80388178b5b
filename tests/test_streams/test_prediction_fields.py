"""The hot path's fast check never accepts what the PredictionEvent schema refuses,
and reads the same model, time and features when both accept."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from driftline.config.events import PredictionEvent
from driftline.streams.ingest.fast_path import fast_prediction_fields

BASE: dict[str, Any] = {
    "model_id": "m1", "model_version": "1", "prediction_id": "p1", "ts": 1767225600.5,
    "features": {"x": 1.5, "n": None, "c": "web", "i": 3}, "prediction": 0.3,
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6,
)


def agree(data: Any) -> None:
    fast = fast_prediction_fields(data)
    try:
        event = PredictionEvent.model_validate(data)
    except ValidationError:
        assert fast is None, f"fast path accepted what the schema refuses: {data!r}"
        return
    if fast is not None:
        assert fast.model_id == event.model_id
        assert fast.ts == pytest.approx(event.ts.timestamp())
        assert {k: (None if v is None else v) for k, v in fast.features.items()} == event.features


@given(st.sampled_from(sorted(BASE)), json_values)
def test_any_single_field_replaced(field: str, value: Any) -> None:
    agree(BASE | {field: value})


@given(st.dictionaries(st.text(max_size=300), json_values, max_size=4))
def test_any_features_map(features: dict[str, Any]) -> None:
    agree(BASE | {"features": features})


@pytest.mark.parametrize(
    "override",
    [
        {"ts": "2026-01-01T00:00:00Z"}, {"ts": "2026-01-01T00:00:00"}, {"ts": 1767225600123},  # ms: pydantic's
        {"ts": -5}, {"model_id": "a{b}"}, {"model_id": "x" * 129}, {"schema_version": 2}, {"segment": {"r": "eu"}},
        {"prediction": {"fraud": 0.9, "ok": 0.1}}, {"prediction": True}, {"features": {"": 1.0}},
        {"features": {"x": True}}, {"model_version": ""},
    ],
)
def test_corner_cases(override: dict[str, Any]) -> None:
    agree(BASE | override)
    agree(orjson.loads(orjson.dumps(BASE | override)))


def test_common_shape_takes_the_fast_path() -> None:
    fields = fast_prediction_fields(BASE)
    assert fields is not None and fields.ts == 1767225600.5
