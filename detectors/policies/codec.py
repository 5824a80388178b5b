"""Policy states as bytes: a small versioned JSON envelope, checked on the way back in."""

from __future__ import annotations

import json
from typing import Any


class PolicyStateError(ValueError):
    """Bytes or data that are not a policy state this build can read."""


def dump(kind: str, version: int, data: dict[str, Any]) -> bytes:
    """``{"kind", "version", "data"}`` as compact, key-sorted JSON (NaN and inf refused).

    >>> dump("alert_state", 1, {"firing": True})
    b'{"data":{"firing":true},"kind":"alert_state","version":1}'
    """
    doc = {"kind": kind, "version": version, "data": data}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def load(kind: str, version: int, raw: bytes) -> dict[str, Any]:
    """The ``data`` of :func:`dump`'s bytes, if they are of this kind and version.

    >>> load("alert_state", 1, dump("alert_state", 1, {"firing": True}))
    {'firing': True}
    """
    try:
        doc = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise PolicyStateError(f"{kind}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or set(doc) != {"kind", "version", "data"} or not isinstance(doc["data"], dict):
        raise PolicyStateError(f"{kind}: expected an object with kind, version and data")
    if doc["kind"] != kind:
        raise PolicyStateError(f"expected a {kind}, got a {doc['kind']!r}")
    if doc["version"] != version:
        raise PolicyStateError(f"{kind} version {doc['version']!r} is not supported (this build reads {version})")
    return doc["data"]


def check_fields(kind: str, data: dict[str, Any], types: dict[str, tuple[type, ...]]) -> None:
    """Unknown keys and wrongly typed values are errors; missing keys take their defaults."""
    unknown = set(data) - set(types)
    if unknown:
        raise PolicyStateError(f"{kind}: unknown fields {sorted(unknown)}")
    for key, value in data.items():
        allowed = types[key]
        is_bool = isinstance(value, bool)
        if not isinstance(value, allowed) or (is_bool and bool not in allowed):
            raise PolicyStateError(f"{kind}: {key}={value!r} is not {' or '.join(t.__name__ for t in allowed)}")
