"""river objects to plain data and back, through a closed list of classes: no pickle.

A detector's declared state fields hold floats, ints, flags and a few small
river objects (``Mean``, ``Var``, ``EWMean``, HDDM_W's ``SampleInfo``, and two
Rust-backed objects). Each allowed class is listed here with the attributes
that make it up; decoding builds only these classes and sets only these
attributes, so bytes from an untrusted store can give wrong numbers at worst,
never run code.

The Rust-backed objects (ADWIN's ``AdaptiveWindowing``, ``EWMean``'s
``RsEWMean``) do not expose their fields to Python; they are carried as their
constructor arguments plus river's own binary encoding of their state
(``__getstate__``), which is tied to the river build that wrote it. See
docs/decisions/0005-online-detector-state.md.
"""

from __future__ import annotations

import base64
import math
from typing import Any

from river import drift, stats
from river.drift.binary import hddm_w

from driftline.detectors.online.errors import StateError

# Python classes river builds its detectors from, with the attributes that make their state.
PY_CLASSES: dict[str, tuple[Any, tuple[str, ...]]] = {
    "Mean": (stats.Mean, ("n", "_mean")),
    "Var": (stats.Var, ("ddof", "mean", "_S")),
    "EWMean": (stats.EWMean, ("fading_factor", "_ewmean")),
    "SampleInfo": (hddm_w.SampleInfo, ("_ewma", "_is_init", "_ibc", "_lambd_sq", "_c_lambd_sq")),
}
# Rust-backed classes: opaque, but their pickle protocol gives (args, bytes) without pickle itself.
RUST_CLASSES: dict[str, Any] = {  # Any: pyo3 classes have no stubs
    "AdaptiveWindowing": type(drift.ADWIN()._helper),
    "RsEWMean": type(stats.EWMean()._ewmean),
}
MAX_RUST_BLOB = 1 << 20  # ADWIN's buckets are O(log n): a few KB even after 10^9 values
_PRIMITIVES = (bool, int, float, str, type(None))
_NAME_OF = {cls: name for name, (cls, _) in PY_CLASSES.items()} | {cls: name for name, cls in RUST_CLASSES.items()}


def encode(value: Any) -> Any:
    """Plain JSON-ready data for one state value (a primitive or an allowed river object).

    >>> m = stats.Mean()
    >>> m.update(3.0)
    >>> encode(m)
    {'$obj': 'Mean', 'fields': {'n': 1.0, '_mean': 3.0}}
    """
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, float | int):  # numpy scalars
        return float(value) if isinstance(value, float) else int(value)
    name = _NAME_OF.get(type(value))
    if name is None:
        raise StateError(f"cannot save a {type(value).__qualname__} (not a declared state type)")
    if name in RUST_CLASSES:
        blob = value.__getstate__()
        return {"$rust": name, "args": list(value.__getnewargs__()), "blob": base64.b64encode(blob).decode()}
    fields = PY_CLASSES[name][1]
    present = set(vars(value))
    if present != set(fields):
        raise StateError(f"river's {name} now has fields {sorted(present)}, not the declared {sorted(fields)}")
    return {"$obj": name, "fields": {f: encode(getattr(value, f)) for f in fields}}


def decode(data: Any) -> Any:
    """The value :func:`encode` made; anything else is a :class:`StateError`.

    >>> decode({'$obj': 'Mean', 'fields': {'n': 1.0, '_mean': 3.0}}).get()
    3.0
    """
    if isinstance(data, _PRIMITIVES):
        return data
    if not isinstance(data, dict):
        raise StateError(f"unexpected {type(data).__name__} in detector state")
    if "$rust" in data:
        return _decode_rust(data)
    name = data.get("$obj")
    if name not in PY_CLASSES or set(data) != {"$obj", "fields"} or not isinstance(data["fields"], dict):
        raise StateError(f"unknown object {name!r} in detector state")
    cls, fields = PY_CLASSES[name]
    if set(data["fields"]) != set(fields):
        raise StateError(f"{name} state has fields {sorted(data['fields'])}, expected {sorted(fields)}")
    obj = cls.__new__(cls)  # no __init__: every attribute is set just below
    for field in fields:
        setattr(obj, field, decode(data["fields"][field]))
    return obj


def has_rust(data: Any) -> bool:
    """Whether encoded state carries a river-build-specific Rust blob anywhere inside."""
    if isinstance(data, dict):
        return "$rust" in data or any(has_rust(v) for v in data.values())
    return isinstance(data, list) and any(has_rust(v) for v in data)


def _decode_rust(data: dict[str, Any]) -> Any:
    name, args, blob_text = data.get("$rust"), data.get("args"), data.get("blob")
    if name not in RUST_CLASSES or not isinstance(args, list) or not isinstance(blob_text, str):
        raise StateError(f"unknown or malformed Rust object {name!r} in detector state")
    if not all(isinstance(a, int | float) and math.isfinite(a) for a in args):
        raise StateError(f"{name} arguments must be finite numbers")
    try:
        blob = base64.b64decode(blob_text, validate=True)
    except ValueError as exc:
        raise StateError(f"{name} blob is not base64: {exc}") from None
    if len(blob) > MAX_RUST_BLOB:
        raise StateError(f"{name} blob of {len(blob)} bytes exceeds {MAX_RUST_BLOB}")
    cls = RUST_CLASSES[name]
    try:
        obj = cls.__new__(cls, *args)
        obj.__setstate__(blob)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 — pyo3 reports a Rust panic as a BaseException
        raise StateError(f"river could not restore its {name}: {exc}") from None
    # The blob must be exactly what this object would write: no trailing bytes, no foreign layout.
    if obj.__getstate__() != blob or list(obj.__getnewargs__()) != args:
        raise StateError(f"{name} state does not round-trip in this river build")
    return obj
