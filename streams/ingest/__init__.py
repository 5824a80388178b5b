"""Kafka in: the batch consumer (:mod:`.consumer`), decoding and dead letters (:mod:`.decode`), the fast shape
check of the common prediction (:mod:`.fast_path`), and retrying instead of raising (:mod:`.retry`)."""

from __future__ import annotations

from driftline.streams.ingest.decode import Record, dead_letter, decode, encode
from driftline.streams.ingest.errors import InvalidEvent, Replan, StateBehind

__all__ = ["InvalidEvent", "Record", "Replan", "StateBehind", "dead_letter", "decode", "encode"]
