"""Wire schemas of every event driftline reads or writes (JSON, ``schema_version`` 1).

These are contracts, not behaviour, so they live in the ``config`` layer beside
the settings: every layer may import them, and they import only pydantic.
Inputs ignore unknown fields (producers may add fields before we do); outputs
forbid them (what we publish is exactly what docs/events.md shows).
docs/events.md holds one example of each, validated by the tests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

SCHEMA_VERSION: Final = 1
PREDICTION_FEATURE = "__prediction__"
PERFORMANCE_FEATURE = "__performance__"
VOLUME_FEATURE = "__volume__"
"""What traffic alerts name: a model's events stopping (``silence``)."""

# Model ids become Redis hash tags ({model_id}); braces would break the tag.
ModelId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]
FeatureValue = float | str | None


def top_class(probabilities: Mapping[str, float]) -> str | None:
    """The most likely class of a ``{class: probability}`` prediction (None for an empty map).

    >>> top_class({"ok": 0.3, "fraud": 0.7}), top_class({})
    ('fraud', None)
    """
    return max(probabilities.items(), key=lambda kv: kv[1])[0] if probabilities else None


def class_feature(class_name: str) -> str:
    """The feature a probability-map prediction's class is monitored as: that class's probability.

    >>> class_feature("fraud"), class_of(class_feature("fraud")), class_of("amount")
    ('__prediction__[fraud]', 'fraud', None)
    """
    return f"{PREDICTION_FEATURE}[{class_name}]"


def class_of(feature: str) -> str | None:
    """The class a ``__prediction__[<class>]`` feature is the probability of; None for any other feature."""
    prefix = f"{PREDICTION_FEATURE}["
    return feature[len(prefix):-1] if feature.startswith(prefix) and feature.endswith("]") else None


def segment_key(feature: str, segment: str | None) -> str:
    """What a feature's window within one segment is kept and alerted under: ``feature|key=value``.

    >>> segment_key("amount", "region=eu"), segment_key("amount", None)
    ('amount|region=eu', 'amount')
    """
    return feature if segment is None else f"{feature}|{segment}"


SIGNAL_DETECTORS = frozenset({"missing", "type_mismatch", "out_of_range", "unseen", "volume"})
"""Detectors whose alerts are a feature's data-quality (or the model's volume) signal, kept apart from its
distribution's under ``<feature>#<detector>``."""


def alert_key(feature: str, segment: str | None, detector: str) -> str:
    """What an alert's state is kept under: the feature (and segment), and ``#<detector>`` for a signal.

    >>> alert_key("amount", None, "psi"), alert_key("amount", "region=eu", "missing")
    ('amount', 'amount|region=eu#missing')
    """
    key = segment_key(feature, segment)
    return f"{key}#{detector}" if detector in SIGNAL_DETECTORS else key


def split_key(key: str) -> tuple[str, str | None, str | None]:
    """A state key's feature, segment and signal.

    >>> split_key("amount|region=eu#missing"), split_key("amount")
    (('amount', 'region=eu', 'missing'), ('amount', None, None))
    """
    rest, _, signal = key.partition("#")
    feature, _, segment = rest.partition("|")
    return feature, segment or None, signal or None


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", protected_namespaces=())

    schema_version: Literal[1] = SCHEMA_VERSION


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    schema_version: Literal[1] = SCHEMA_VERSION


def _finite_features(values: dict[str, FeatureValue]) -> dict[str, FeatureValue]:
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"feature {name!r} is {value}; send null for a missing value")
    return values


class PredictionEvent(_Input):
    """One prediction a model served, with the features behind it. Keyed by ``model_id``."""

    model_id: ModelId
    model_version: Name
    prediction_id: Name
    ts: AwareDatetime = Field(description="Event time; ISO 8601 with a zone, or epoch seconds.")
    features: dict[Name, FeatureValue]
    prediction: float | str | dict[Name, float]
    segment: dict[Name, str] | None = None

    _check_features = field_validator("features")(_finite_features)


class FeatureEvent(_Input):
    """Feature values logged without a prediction; ``prediction_id`` joins them to one."""

    model_id: ModelId
    ts: AwareDatetime
    features: dict[Name, FeatureValue]
    prediction_id: Name | None = None
    segment: dict[Name, str] | None = None

    _check_features = field_validator("features")(_finite_features)


class LabelEvent(_Input):
    """Ground truth for an earlier prediction, usually hours or days late."""

    model_id: ModelId
    prediction_id: Name
    label: float | str
    ts: AwareDatetime


class TimeWindow(BaseModel):
    """A half-open event-time interval ``[start, end)``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: datetime
    end: datetime


class HistogramEvidence(BaseModel):
    """Reference vs current proportions on the reference's bins (numeric features)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["histogram"] = "histogram"
    edges: list[float] = Field(description="Inner bin edges; the outer bins are open-ended.")
    reference: list[float]
    current: list[float]


class ValuesEvidence(BaseModel):
    """The values behind a data-quality alert, by name, with their counts in the window (``unseen``: the
    categories the reference does not list, the most frequent first)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["values"] = "values"
    values: dict[str, int]


class CategoricalEvidence(BaseModel):
    """Reference vs current proportions per category, with ``__other__`` for the rest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["categorical"] = "categorical"
    categories: list[str]
    reference: list[float]
    current: list[float]


ThresholdRule = Literal["calibrated", "variability", "floor", "band", "fixed"]
"""What set an effect test's threshold (docs/thresholds.md)."""


class DriftAlert(_Output):
    """A detector's verdict on one feature (or the prediction, or performance) turned into an alert."""

    alert_id: Name
    model_id: ModelId
    feature: Name = Field(description=f"A feature name, {PREDICTION_FEATURE!r} or {PERFORMANCE_FEATURE!r}.")
    segment: dict[Name, str] | None = Field(None, description="The segment (key and value) monitored apart, if any.")
    detector: Name
    statistic: float
    threshold: float
    rule: ThresholdRule | None = Field(
        None, description="What set the threshold of an effect test: calibrated (the window size's sampling noise "
        "for the expected run time between false alarms), variability (how far the reference's own stretches of "
        "the window's size differ from the whole, for a reference built in order), floor (the smallest effect that "
        "alerts), band (the critical effect size) or fixed (a spec's constant); docs/thresholds.md.")
    p_value: float | None = None
    reference_value: float | None = Field(
        None, description="What the statistic is compared with, where it is a metric (performance: the "
        "reference's error rate or MAE; the threshold is then the band's edge at this window's n).")
    severity: Literal["warning", "critical"]
    state: Literal["firing", "resolved"]
    window: TimeWindow
    reference_version: Name
    n_reference: int = Field(ge=0)
    n_current: int = Field(ge=0)
    evidence: HistogramEvidence | CategoricalEvidence | ValuesEvidence | None = Field(default=None,
                                                                                      discriminator="kind")


class RetrainTrigger(_Output):
    """A guarded request to retrain a model, with the alerts and evidence behind it."""

    trigger_id: Name
    model_id: ModelId
    reason: str
    alert_ids: list[Name] = Field(min_length=1)
    policy: Name
    training_window: TimeWindow
    evidence: dict[Name, float] = Field(description="Per drifted feature, its statistic.")


class DeadLetter(_Output):
    """An input that could not be used, with where it came from and why."""

    topic: Name
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    reason: str
    payload_b64: str = Field(description="The original message value, base64 (its first bytes when truncated).")
    key_b64: str | None = None
    payload_bytes: int | None = Field(None, ge=0, description="The original value's size in bytes.")
    payload_truncated: bool = Field(
        False, description="Only the first bytes are here (the value was too large to republish); the whole "
        "value is at topic/partition/offset while the topic retains it, and payload_sha256 identifies it.",
    )
    payload_sha256: str | None = Field(None, description="SHA-256 (hex) of the whole original value.")
