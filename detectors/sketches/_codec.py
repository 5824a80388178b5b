"""The versioned byte format shared by every sketch: magic, version, JSON header, numpy arrays.

Layout: 4-byte magic, 1-byte format version, 4-byte header length, JSON header,
then each array as raw little-endian bytes in the order the header lists them.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

FORMAT_VERSION = 1
_PREFIX = struct.Struct("<4sBI")


class SketchFormatError(ValueError):
    """Bytes that are not a sketch of the expected kind and version."""


def encode(magic: bytes, header: Mapping[str, object], arrays: dict[str, np.ndarray]) -> bytes:
    layout = [[name, str(arr.dtype.newbyteorder("<")), arr.shape[0]] for name, arr in arrays.items()]
    meta = {**header, "arrays": layout}
    head = json.dumps(meta, separators=(",", ":")).encode()
    body = b"".join(np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes() for arr in arrays.values())
    return _PREFIX.pack(magic, FORMAT_VERSION, len(head)) + head + body


def decode(magic: bytes, data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header (as JSON decoded it: each sketch checks its own fields) and the arrays."""
    if len(data) < _PREFIX.size:
        raise SketchFormatError("too short to be a sketch")
    got_magic, version, head_len = _PREFIX.unpack_from(data)
    if got_magic != magic:
        raise SketchFormatError(f"not a {magic.decode()} sketch (magic {got_magic!r})")
    if version != FORMAT_VERSION:
        raise SketchFormatError(f"sketch format version {version} is not supported (this build reads {FORMAT_VERSION})")
    try:
        meta = json.loads(data[_PREFIX.size : _PREFIX.size + head_len])
        pos = _PREFIX.size + head_len
        arrays = {}
        for name, dtype, length in meta.pop("arrays"):
            dt = np.dtype(dtype)
            end = pos + dt.itemsize * int(length)
            if end > len(data):
                raise SketchFormatError("truncated sketch")
            arrays[name] = np.frombuffer(data[pos:end], dtype=dt).astype(dt.newbyteorder("="))
            pos = end
    except (ValueError, KeyError, TypeError) as exc:
        raise SketchFormatError(f"corrupt sketch: {exc}") from None
    if pos != len(data):
        raise SketchFormatError("trailing bytes after the sketch")
    return meta, arrays
