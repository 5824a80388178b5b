"""Deterministic ids for alerts and triggers: the same inputs always give the same id.

A replay after a crash therefore publishes the same ids, and consumers can
deduplicate. The id is a truncated SHA-256 of a canonical JSON encoding, so any
change of an input changes it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime


def _digest(kind: str, fields: dict[str, object]) -> str:
    canonical = json.dumps({"kind": kind, **fields}, sort_keys=True, separators=(",", ":"), default=_encode)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} in an id")


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
    """
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
    return _digest("trigger", {"model_id": model_id, "rule": rule, "alert_ids": sorted(alert_ids)})
