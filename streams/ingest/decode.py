"""Raw Kafka bytes in, validated events or dead letters out: one record at a time, or a batch of predictions
as columns (:func:`decode_batch`).

Decoding is ours, not faust's: faust acks and merely logs a record it cannot
deserialize, which would lose it silently. Here every failure becomes a
:class:`~driftline.config.events.DeadLetter` carrying the original bytes.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from driftline.config import DeadLetter, FeatureEvent, PredictionEvent
from driftline.streams.ingest.errors import InvalidEvent
from driftline.streams.ingest.fast_path import fast_prediction_fields

EventT = TypeVar("EventT", bound=BaseModel)


def decode(raw: bytes | None, schema: type[EventT], *, max_bytes: int) -> EventT:
    """Parse and validate one message value, or raise :class:`InvalidEvent`."""
    if not raw:
        raise InvalidEvent("empty message")
    if len(raw) > max_bytes:
        raise InvalidEvent(f"message is {len(raw)} bytes, over the {max_bytes}-byte limit")
    data = loads(raw)
    if not isinstance(data, dict):
        raise InvalidEvent(f"expected a JSON object, got {type(data).__name__}")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent(f"invalid {schema.__name__}: {_summarise(exc)}") from None


MAX_DEPTH = 64
"""No event of ours nests deeper than 3 levels; orjson's recursive parser crashes the whole process (SIGSEGV)
on input nested ~100,000 deep, well within the size limit, so deeper input is refused before parsing."""


def loads(raw: bytes) -> Any:
    """``orjson.loads`` for untrusted bytes: :class:`InvalidEvent` for what is not JSON or nests too deep.

    >>> loads(b'{"a": [1]}')
    {'a': [1]}
    >>> loads(b"[" * 100_000 + b"]" * 100_000)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InvalidEvent: JSON nested deeper than 64 levels
    """
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and nesting_depth(raw) > MAX_DEPTH:
        raise InvalidEvent(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of ``[`` / ``{`` outside strings (a scan, for the rare payload with many brackets).

    >>> nesting_depth(b'{"a": [[1]], "b": "[[[["}')
    3
    """
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def encode(event: BaseModel) -> bytes:
    """Serialise an event as compact JSON bytes."""
    return event.model_dump_json(exclude_none=False).encode()


DEAD_LETTER_PAYLOAD_BYTES = 256 * 1024
"""Values up to this size travel whole in their dead letter; base64 makes them a third larger, and a dead
letter must fit the producer's and broker's default 1 MB limit, or publishing it would fail forever."""

TRUNCATED_PREFIX_BYTES = 4096


def dead_letter(
    raw: bytes | None, *, reason: str, topic: str, partition: int, offset: int, key: bytes | None = None
) -> DeadLetter:
    """The dead letter for one refused message: whole up to :data:`DEAD_LETTER_PAYLOAD_BYTES`, beyond that its
    first bytes with the size and SHA-256 of the whole (which stays at topic/partition/offset).

    >>> d = dead_letter(b"x" * 10_000_000, reason="too big", topic="t", partition=0, offset=5)
    >>> d.payload_truncated, d.payload_bytes, len(base64.b64decode(d.payload_b64)), len(d.model_dump_json()) < 10_000
    (True, 10000000, 4096, True)
    """
    value = raw or b""
    truncated = len(value) > DEAD_LETTER_PAYLOAD_BYTES
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        reason=reason,
        payload_b64=base64.b64encode(value[:TRUNCATED_PREFIX_BYTES] if truncated else value).decode(),
        key_b64=base64.b64encode(key[:TRUNCATED_PREFIX_BYTES]).decode() if key is not None else None,
        payload_bytes=len(value),
        payload_truncated=truncated,
        payload_sha256=hashlib.sha256(value).hexdigest(),
    )


def _summarise(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "(root)"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class Record:
    """One Kafka message as the batch planner needs it."""

    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    timestamp_ms: int | None = None
    """The record's Kafka timestamp (the producer's clock, or the broker's with LogAppendTime)."""


@dataclass
class DecodedBatch:
    """Valid records as columns (model, event time, features), and the dead letters."""

    records: list[Record] = field(default_factory=list)
    model_ids: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)
    prediction_ids: list[str] = field(default_factory=list)
    predictions: list[Any] = field(default_factory=list)
    segments: list[dict[str, str] | None] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    features_only: bool = False
    """FeatureEvents (the features topic): no prediction (``predictions`` are None), ``prediction_ids`` '' when
    an event has none."""

    def add(
        self,
        rec: Record,
        model_id: str,
        ts: float,
        features: dict[str, Any],
        prediction_id: str,
        prediction: Any,
        segment: dict[str, str] | None = None,
    ) -> None:
        self.records.append(rec)
        self.model_ids.append(model_id)
        self.times.append(ts)
        self.features.append(features)
        self.prediction_ids.append(prediction_id)
        self.predictions.append(prediction)
        self.segments.append(segment)


def decode_feature_batch(
    records: Iterable[Record], *, topic: str, max_bytes: int, max_future_seconds: float | None = None
) -> DecodedBatch:
    """Validate every FeatureEvent (the full schema: the features topic is not the hot path); the invalid ones
    become dead letters with the reason, as in :func:`decode_batch`.

    >>> good = b'{"model_id": "m", "ts": 60.0, "features": {"x": 1.5}}'
    >>> batch = decode_feature_batch([Record(0, 0, good), Record(0, 1, b'{"model_id": "m"}')], topic="f",
    ...                              max_bytes=10_000)
    >>> batch.features, batch.predictions, batch.dead_letters[0].reason[:40]
    ([{'x': 1.5}], [None], 'invalid FeatureEvent: ts: Field required')
    """
    batch = DecodedBatch(features_only=True)
    for rec in records:
        try:
            event = decode(rec.value, FeatureEvent, max_bytes=max_bytes)
        except InvalidEvent as exc:
            batch.dead_letters.append(record_dead_letter(rec, topic, exc.reason))
            continue
        ts = event.ts.timestamp()
        skew = future_skew(rec, ts, max_future_seconds)
        if skew is not None:
            batch.dead_letters.append(record_dead_letter(rec, topic, skew))
            continue
        batch.add(rec, event.model_id, ts, event.features, event.prediction_id or "", None, event.segment)
    return batch


def decode_batch(
    records: Iterable[Record], *, topic: str, max_bytes: int, max_future_seconds: float | None = None
) -> DecodedBatch:
    """Validate every record; the invalid ones become dead letters with the reason.

    The common shape takes the fast structural check; anything else goes through
    the full pydantic schema, which accepts it or names what is wrong. An event
    stamped more than ``max_future_seconds`` after its record's Kafka timestamp
    (a producer's clock far ahead) is refused too: its event time would close
    every open window of its model (see :func:`future_skew`).
    """
    batch = DecodedBatch()
    for rec in records:
        raw = rec.value
        fields: tuple[Any, ...] | None = None
        if raw and len(raw) <= max_bytes:
            try:
                fields = fast_prediction_fields(loads(raw))
            except InvalidEvent:
                fields = None  # the full decode below gives the reason
        if fields is None:
            try:
                event = decode(raw, PredictionEvent, max_bytes=max_bytes)
            except InvalidEvent as exc:
                batch.dead_letters.append(record_dead_letter(rec, topic, exc.reason))
                continue
            fields = (event.model_id, event.ts.timestamp(), event.features, event.prediction_id, event.prediction,
                      event.segment)
        skew = future_skew(rec, fields[1], max_future_seconds)
        if skew is not None:
            batch.dead_letters.append(record_dead_letter(rec, topic, skew))
            continue
        batch.add(rec, *fields)
    return batch


def future_skew(rec: Record, ts: float, max_future_seconds: float | None) -> str | None:
    """Why an event time is too far ahead of its record's timestamp, or None when it is not.

    Judged against the record's own timestamp, not the worker's clock, so a
    replay decides exactly as the first reading did (nothing is first refused,
    then counted). Events stamped in the past are never refused here: the
    windowing rules count them, as late when their window is gone.

    >>> rec = Record(0, 7, b"", timestamp_ms=1_000_000)
    >>> future_skew(rec, 1_000.0 + 300, 300.0) is None
    True
    >>> future_skew(rec, 4_102_444_800.0, 300.0)[:70]
    'event time 2100-01-01T00:00:00+00:00 is 4102443800 s after its record '
    """
    if max_future_seconds is None or rec.timestamp_ms is None or rec.timestamp_ms < 0:
        return None
    ahead = ts - rec.timestamp_ms / 1000
    if ahead <= max_future_seconds:
        return None
    when = datetime.fromtimestamp(ts, tz=UTC).isoformat() if ts < 253_402_300_800 else repr(ts)  # year 10000
    return (f"event time {when} is {ahead:.0f} s after its record was produced (more than the "
            f"{max_future_seconds:.0f} s allowed): is the producer clock wrong?")


def record_dead_letter(rec: Record, topic: str, reason: str) -> DeadLetter:
    return dead_letter(rec.value, reason=reason, topic=topic, partition=rec.partition, offset=rec.offset, key=rec.key)


