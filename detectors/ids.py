"""Deterministic ids for alerts and triggers: the same inputs always give the same id.

A replay after a crash therefore publishes the same ids, and consumers can
deduplicate. The id is the first 128 bits (32 hex digits) of the SHA-256 of a
canonical JSON encoding (sorted keys, no whitespace, a ``kind`` so alert and
trigger ids never collide), so any change of an input changes it. Times are
encoded as UTC ISO-8601: the same instant in another time zone is the same id;
naive datetimes are refused (their instant is ambiguous). The encoding is part
of the contract: changing it changes every id, and a replay across the change
would publish duplicates.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime


def _digest(kind: str, fields: dict[str, object]) -> str:
    canonical = json.dumps({"kind": kind, **fields}, sort_keys=True, separators=(",", ":"), default=_encode)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} in an id: give it a time zone")
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} in an id")


def _check_text(**fields: object) -> None:
    for name, value in fields.items():
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, not {type(value).__name__}")


def alert_id(
    *,
    model_id: str,
    feature: str,
    detector: str,
    window_start: datetime,
    window_end: datetime,
    state: str,
    reference_version: str,
) -> str:
    """Id of one alert transition.

    >>> from datetime import datetime, UTC
    >>> a = dict(model_id="m", feature="x", detector="psi", state="firing", reference_version="v1",
    ...          window_start=datetime(2026, 1, 1, tzinfo=UTC), window_end=datetime(2026, 1, 1, 0, 1, tzinfo=UTC))
    >>> alert_id(**a) == alert_id(**a), alert_id(**a) == alert_id(**{**a, "state": "resolved"})
    (True, False)
    >>> alert_id(**a)
    'f252251f2c6ca760333fd46386d9ee0b'
    """
    _check_text(model_id=model_id, feature=feature, detector=detector, state=state,
                reference_version=reference_version)
    return _digest(
        "alert",
        {
            "model_id": model_id, "feature": feature, "detector": detector, "window_start": window_start,
            "window_end": window_end, "state": state, "reference_version": reference_version,
        },
    )


def trigger_id(*, model_id: str, rule: str, alert_ids: tuple[str, ...] | list[str]) -> str:
    """Id of one retrain trigger: the same rule over the same alerts is the same trigger.

    >>> trigger_id(model_id="m", rule="performance", alert_ids=["b", "a"]) == trigger_id(
    ...     model_id="m", rule="performance", alert_ids=["a", "b"])
    True
    """
    _check_text(model_id=model_id, rule=rule, **{f"alert_ids[{i}]": a for i, a in enumerate(alert_ids)})
    return _digest("trigger", {"model_id": model_id, "rule": rule, "alert_ids": sorted(alert_ids)})
