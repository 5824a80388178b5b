"""The values of the label join: what a label batch applies, what a kept prediction and a waiting label are,
the label tallies, and how they are encoded for the Lua scripts (``lua/apply.lua``'s join section and
``lua/apply_labels.lua``). Nothing here knows a key name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson


def stored_prediction(prediction: Any, ts: float, segment: Mapping[str, str] | None) -> bytes:
    """A prediction as kept for the label join: the prediction, its event time, its segment (or null).

    >>> stored_prediction(0.9, 60.0, None), read_stored_prediction(b'[0.9,60.0,null]')
    (b'[0.9,60.0,null]', (0.9, 60.0, None))
    """
    return orjson.dumps([prediction, ts, segment])


def read_stored_prediction(raw: bytes) -> tuple[Any, float | None, dict[str, str] | None]:
    """(prediction, event time, segment) of a kept prediction; one kept before the event time was (the bare
    prediction) has no time.

    >>> read_stored_prediction(b'{"a": 0.7}')
    ({'a': 0.7}, None, None)
    """
    value = orjson.loads(raw)
    if isinstance(value, list) and len(value) == 3:
        return value[0], float(value[1]), value[2]
    return value, None, None


def performance_ttl(retention_seconds: int, bucket_ttl_seconds: int) -> int:
    """How long a performance window lives: it takes labels for as long as its predictions are kept, then
    stays readable (history, dashboard) for the bucket TTL.

    >>> performance_ttl(86_400, 3600)
    90000
    """
    return retention_seconds + bucket_ttl_seconds


LAG_BINS = tuple(2 ** k for k in range(0, 27))
"""Label lag histogram edges, in seconds: 1 s, 2 s, 4 s, ... 2**26 s (two years)."""


def lag_bin(lag_seconds: float | None) -> str:
    """The label-lag histogram bin (``''``: unknown): ``<=`` the smallest edge of :data:`LAG_BINS` it fits,
    ``-`` for a label stamped before its prediction.

    >>> lag_bin(0.5), lag_bin(3.0), lag_bin(-1.0), lag_bin(None), lag_bin(1e12)
    ('1', '4', '-', '', 'inf')
    """
    if lag_seconds is None:
        return ""
    if lag_seconds < 0:
        return "-"
    return next((str(edge) for edge in LAG_BINS if lag_seconds <= edge), "inf")


def counter_arg(value: float) -> str:
    """A counter increment as the Lua scripts read it: an integer without a point, a float with one (they
    add floats with HINCRBYFLOAT).

    >>> counter_arg(1), counter_arg(2.0), counter_arg(0.25)
    ('1', '2.0', '0.25')
    """
    return str(value) if isinstance(value, int) else repr(float(value))


@dataclass(frozen=True)
class Join:
    """One label joined to its prediction: the counters it adds to the performance window of the prediction's
    time (:func:`driftline.detectors.performance.outcome`), applied once (the store removes the waiting side,
    and counts the join only when that removal happened)."""

    prediction_id: str
    window_id: int
    counts: Mapping[str, float]
    day: int | None = None
    """Where the prediction is kept (label path: the day it is removed from); None: the label was waiting."""
    lag_seconds: float | None = None
    """Label time minus prediction time."""


@dataclass(frozen=True)
class PendingLabel:
    """A label whose prediction is not stored yet: kept until ``due`` (epoch seconds), then unmatched."""

    prediction_id: str
    value: bytes
    due: float


@dataclass
class LabelBatch:
    """What one model's labels from one partition change, applied in one call.

    >>> LabelBatch("m", 0, 10, 12).joins
    []
    """

    model_id: str
    partition: int
    min_offset: int
    max_offset: int
    joins: list[Join] = field(default_factory=list)
    pending: list[PendingLabel] = field(default_factory=list)
    days: tuple[int, ...] = ()
    """The days of kept predictions the batch looked in (:meth:`LabelStore.find_predictions`): a label kept
    waiting while a prediction of another day arrived meanwhile makes the apply a :attr:`ApplyResult.JOIN_RACE`."""
    now: float = 0.0
    """The worker's clock: waiting labels due before it are counted as unmatched."""
    max_pending: int = 1_000_000
    retention_seconds: int = 7 * 24 * 3600
    """How long the model keeps predictions (and performance windows take labels)."""
    states: dict[str, bytes] = field(default_factory=dict)
    """Error-stream detector states (their fields in the model's detector states)."""


@dataclass(frozen=True)
class KeptPrediction:
    """A prediction kept for the label join: the day it is kept under, and its :func:`stored_prediction`."""

    day: int
    value: bytes


@dataclass(frozen=True)
class LabelCounts:
    """A model's label tallies: joined, waiting for their prediction, unmatched (their wait passed), dropped
    (the waiting room was full), duplicates (a second label for one prediction), overdue (waiting past their
    time, not counted as unmatched yet)."""

    joined: int = 0
    pending: int = 0
    unmatched: int = 0
    dropped: int = 0
    duplicates: int = 0
    overdue: int = 0
    errors: int = 0
    lag: Mapping[str, int] = field(default_factory=dict)
    """Label lag histogram: :func:`lag_bin` -> joined labels."""

    def tallies(self) -> dict[str, int]:
        """The counts by name (the lag histogram left out).

        >>> LabelCounts(joined=3, pending=1).tallies()["pending"]
        1
        """
        return {name: int(getattr(self, name)) for name in
                ("joined", "pending", "unmatched", "dropped", "duplicates", "overdue", "errors")}
