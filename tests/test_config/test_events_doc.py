"""Every JSON example in docs/events.md validates against the model its fence names."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from pydantic import BaseModel

from driftline.config import events

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
FENCE = re.compile(r"```json (\w+)\n(.*?)```", re.DOTALL)
EXAMPLES = FENCE.findall(DOC.read_text())
SCHEMAS = ("PredictionEvent", "FeatureEvent", "LabelEvent", "DriftAlert", "RetrainTrigger", "DeadLetter")


def test_every_schema_has_an_example() -> None:
    assert sorted(name for name, _ in EXAMPLES) == sorted(SCHEMAS)


@pytest.mark.parametrize(("name", "body"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_example_validates_and_round_trips(name: str, body: str) -> None:
    model: type[BaseModel] = getattr(events, name)
    data = orjson.loads(body)
    event = model.model_validate(data)
    assert event.schema_version == 1  # type: ignore[attr-defined]
    assert model.model_validate_json(event.model_dump_json()) == event
