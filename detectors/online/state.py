"""The byte format of a saved detector: magic, format version, JSON body, SHA-256.

Layout: ``b"DLOD"``, one byte of format version, a little-endian u32 body
length, the UTF-8 JSON body, and the SHA-256 of everything before it. The body
is plain data (detector name, parameters, values seen, river version, declared
state fields): nothing in it is unpickled or evaluated. The checksum catches
truncation and bit rot; it is not a signature (a writer to the store could
change the numbers, as it could change the sketches, but could not run code).
Format 1 (river's pickle under an HMAC) is no longer read.
See docs/decisions/0005-online-detector-state.md.
"""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

from driftline.detectors.online.errors import StateError

MAGIC = b"DLOD"
FORMAT_VERSION = 2
_PREFIX = struct.Struct("<4sBI")
_DIGEST_SIZE = hashlib.sha256().digest_size
_BODY_KEYS = frozenset({"name", "params", "n_seen", "river", "state"})


def pack(body: dict[str, Any]) -> bytes:
    """Bytes for a state body (plain data only).

    >>> data = pack({"name": "ddm", "params": {}, "n_seen": 0, "river": "0.26.1", "state": {}})
    >>> data[:5], unpack(data)["name"]
    (b'DLOD\\x02', 'ddm')
    """
    # allow_nan: detectors start some fields at +-inf (Page-Hinkley's minimum), which must survive.
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()
    head = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(encoded)) + encoded
    return head + hashlib.sha256(head).digest()


def unpack(data: bytes) -> dict[str, Any]:
    """The body of bytes from :func:`pack`, after checking magic, version, length and checksum."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise StateError(f"detector state must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) < _PREFIX.size + _DIGEST_SIZE:
        raise StateError(f"too short to be a detector state ({len(data)} bytes)")
    magic, version, body_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise StateError(f"not a detector state (magic {magic!r}, expected {MAGIC!r})")
    if version != FORMAT_VERSION:
        raise StateError(f"detector state format {version} is not supported (this build reads {FORMAT_VERSION})")
    if len(data) != _PREFIX.size + body_len + _DIGEST_SIZE:
        raise StateError("detector state length does not match its header (truncated or padded)")
    head, digest = data[:-_DIGEST_SIZE], data[-_DIGEST_SIZE:]
    if hashlib.sha256(head).digest() != digest:
        raise StateError("detector state failed its checksum (the bytes were altered or corrupted)")
    try:
        body = json.loads(head[_PREFIX.size :])
    except ValueError as exc:
        raise StateError(f"corrupt detector state body: {exc}") from None
    if not isinstance(body, dict) or set(body) != _BODY_KEYS:
        raise StateError(f"detector state body must have exactly {sorted(_BODY_KEYS)}")
    if not isinstance(body["params"], dict) or not isinstance(body["state"], dict):
        raise StateError("detector state params and state must be objects")
    if type(body["n_seen"]) is not int or body["n_seen"] < 0:
        raise StateError("detector state n_seen must be a non-negative integer")
    return body
