"""Raw Kafka bytes in, validated events or dead letters out.

Decoding is ours, not faust's: faust acks and merely logs a record it cannot
deserialize, which would lose it silently. Here every failure becomes a
:class:`~driftline.config.events.DeadLetter` carrying the original bytes.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from driftline.config.events import DeadLetter

EventT = TypeVar("EventT", bound=BaseModel)


class InvalidEvent(ValueError):
    """A message that cannot become an event; ``reason`` says why, in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
