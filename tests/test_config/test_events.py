from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from driftline.config.events import DriftAlert, PredictionEvent


def prediction(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model_id": "m1", "model_version": "1", "prediction_id": "p1",
        "ts": "2026-01-01T00:00:00Z", "features": {"x": 1.0, "c": "a", "n": None}, "prediction": 0.3,
    }
    return base | overrides


def test_epoch_seconds_become_aware_utc() -> None:
    event = PredictionEvent.model_validate(prediction(ts=1767225600))
    assert event.ts == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ts": "2026-01-01T00:00:00"}, "ts"),  # no zone: ambiguous
        ({"features": {"x": float("nan")}}, "features"),
        ({"features": {"x": float("inf")}}, "features"),
        ({"model_id": "a{b}"}, "model_id"),  # would break the Redis hash tag
        ({"model_id": ""}, "model_id"),
        ({"features": {"x": [1, 2]}}, "features"),
        ({"schema_version": 2}, "schema_version"),
    ],
)
def test_invalid_predictions_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        PredictionEvent.model_validate(prediction(**overrides))
    assert any(err["loc"][0] == field for err in info.value.errors())


def test_inputs_ignore_unknown_fields_and_outputs_forbid_them() -> None:
    assert PredictionEvent.model_validate(prediction(extra_field=1)).model_id == "m1"
    with pytest.raises(ValidationError, match="extra"):
        DriftAlert.model_validate({"unexpected": 1})


def test_events_are_immutable() -> None:
    event = PredictionEvent.model_validate(prediction())
    with pytest.raises(ValidationError):
        event.model_id = "other"  # type: ignore[misc]
