"""Detector state as bytes: a versioned header, river's own pickle, and an HMAC over both.

river's ADWIN keeps its buckets in a Rust object that Python cannot read, but
pickling round-trips it exactly, so the payload is river's pickle. Unpickling
bytes from a store an attacker could write would be code execution, so the
bytes carry an HMAC-SHA256 under a key only driftline holds, checked before
anything is unpickled. State from another river version is refused (its
internals may differ); the caller starts that detector fresh.
See docs/decisions/0005-online-detector-state.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
import struct
from typing import Any

import river

MAGIC = b"DLOD"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<4sBI")
_MAC_SIZE = hashlib.sha256().digest_size


class StateError(ValueError):
    """Bytes that are not (or no longer) a restorable detector state."""


def seal(name: str, params: dict[str, Any], n_seen: int, detector: object, key: bytes) -> bytes:
    header = json.dumps(
        {"name": name, "params": params, "n_seen": n_seen, "river": river.__version__}, sort_keys=True
    ).encode()
    body = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header)) + header + pickle.dumps(detector, protocol=5)
    return body + hmac.new(key, body, hashlib.sha256).digest()


def unseal(data: bytes, key: bytes) -> tuple[dict[str, Any], object]:
    """(header, river detector) after checking format, integrity and river version."""
    if len(data) < _PREFIX.size + _MAC_SIZE:
        raise StateError("too short to be a detector state")
    magic, version, header_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise StateError(f"not a detector state (magic {magic!r})")
    if version != FORMAT_VERSION:
        raise StateError(f"detector state format {version} is not supported (this build reads {FORMAT_VERSION})")
    body, mac = data[:-_MAC_SIZE], data[-_MAC_SIZE:]
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
        raise StateError("detector state failed its integrity check (wrong key, or the bytes were altered)")
    try:
        header = json.loads(body[_PREFIX.size : _PREFIX.size + header_len])
    except ValueError as exc:
        raise StateError(f"corrupt detector state header: {exc}") from None
    if header.get("river") != river.__version__:
        raise StateError(f"state written by river {header.get('river')}, this is river {river.__version__}")
    detector = pickle.loads(body[_PREFIX.size + header_len :])  # noqa: S301 — authenticated above
    return header, detector
