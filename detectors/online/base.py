"""One interface over the sequential detectors: typed verdicts, explicit resets, state as bytes."""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import river
from numpy.typing import ArrayLike

from driftline.detectors.online import river_state, state
from driftline.detectors.online.errors import StateError


@dataclass(frozen=True)
class OnlineVerdict:
    """What one value did to a detector.

    Attributes
    ----------
    detector
        The detector's registry name (``"adwin"``, ``"ddm"``, ...).
    index
        0-based position of the value among all values the detector has seen.
    drift, warning
        Whether this value completed a drift (or a warning) detection.
    statistic
        The detector's own statistic after this value, where it has one (see each class).
    p_value
        KSWIN's KS-test p-value; None for the others.

    Examples
    --------
    >>> OnlineVerdict('adwin', 7, drift=True).warning
    False
    """

    detector: str
    index: int
    drift: bool
    warning: bool = False
    statistic: float | None = None
    p_value: float | None = None


class OnlineDetector(ABC):
    """A sequential detector behind a typed surface.

    Reset is explicit: on the value that completes a drift, the verdict says
    ``drift=True`` and the detector is already replaced by the state it will
    continue from (a fresh detector with the same parameters; KSWIN keeps its
    newest values), so state saved right after a drift is that state. river
    would otherwise reset silently at the start of the next call.

    State is declared: ``STATE_FIELDS`` names the attributes that make it up;
    everything else is rebuilt from the parameters. :meth:`to_bytes` /
    :meth:`from_bytes` save and restore exactly, without pickle.

    Examples
    --------
    >>> from driftline.detectors.online import make_detector
    >>> d = make_detector('page_hinkley')
    >>> d.update(0.5).index, d.n_seen
    (0, 1)
    >>> OnlineDetector.from_bytes(d.to_bytes()).n_seen
    1
    """

    name: ClassVar[str]
    STATE_FIELDS: ClassVar[tuple[str, ...]]
    TRANSIENT: ClassVar[frozenset[str]] = frozenset()
    """Attributes river derives from the parameters (not saved)."""
    HAS_WARNING: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)
        self._river = self._make()
        _check_params(self.name, type(self._river), self.params)
        self.n_seen = 0

    @abstractmethod
    def _make(self) -> Any:
        """A fresh underlying detector with ``self.params``."""

    def _statistic(self) -> float | None:
        return None

    def _p_value(self) -> float | None:
        return None

    def _values(self, xs: np.ndarray) -> list[Any]:
        """The batch as Python values, after rejecting it whole if any value is invalid."""
        if not np.isfinite(xs).all():
            raise ValueError(f"{self.name} takes finite values; the batch has NaN or inf")
        values: list[Any] = xs.tolist()
        return values

    def update(self, x: float) -> OnlineVerdict:
        """Feed one value; the verdict says whether it completed a drift or a warning."""
        (value,) = self._values(np.asarray([x], dtype=np.float64))
        self._river.update(value)
        return self._record(self._river)

    def update_many(self, xs: ArrayLike) -> list[OnlineVerdict]:
        """Feed a batch in order; return only the verdicts with a drift or a warning.

        Equivalent to calling :meth:`update` on each value. A batch with an
        invalid value is rejected whole, before any value changes the state.
        """
        values = self._values(np.asarray(xs, dtype=np.float64).ravel())
        out: list[OnlineVerdict] = []
        detector, warns = self._river, self.HAS_WARNING
        for value in values:
            detector.update(value)
            if detector.drift_detected or (warns and detector.warning_detected):
                out.append(self._record(detector))
                detector = self._river  # replaced after a drift
            else:
                self.n_seen += 1
        return out

    def _record(self, detector: Any) -> OnlineVerdict:
        verdict = OnlineVerdict(
            detector=self.name,
            index=self.n_seen,
            drift=bool(detector.drift_detected),
            warning=bool(self.HAS_WARNING and detector.warning_detected),
            statistic=self._statistic(),
            p_value=self._p_value(),
        )
        self.n_seen += 1
        if verdict.drift:
            self._river = self._fresh_after_drift()
        return verdict

    def _fresh_after_drift(self) -> Any:
        """The detector to continue with after a drift: by default a fresh one."""
        return self._make()

    def reset(self) -> None:
        """Start over with the same parameters; ``n_seen`` keeps counting (indices stay unique)."""
        self._river = self._make()

    def get_state(self) -> dict[str, Any]:
        """The declared state fields as plain (JSON-ready) data."""
        _check_layout(self._river, self.STATE_FIELDS, self.TRANSIENT)
        return {f: river_state.encode(getattr(self._river, f)) for f in self.STATE_FIELDS}

    def _set_state(self, data: dict[str, Any]) -> None:
        fresh = self._make()
        _check_layout(fresh, self.STATE_FIELDS, self.TRANSIENT)
        if set(data) != set(self.STATE_FIELDS):
            raise StateError(f"{self.name} state has fields {sorted(data)}, expected {sorted(self.STATE_FIELDS)}")
        for field in self.STATE_FIELDS:
            value = river_state.decode(data[field])
            _check_compatible(self.name, field, getattr(fresh, field), value)
            setattr(fresh, field, value)
        self._river = fresh

    def to_bytes(self) -> bytes:
        """The detector (parameters, count and declared state) as versioned bytes."""
        body = {"name": self.name, "params": self.params, "n_seen": self.n_seen, "river": river.__version__,
                "state": self.get_state()}
        return state.pack(body)

    @classmethod
    def from_bytes(cls, data: bytes) -> OnlineDetector:
        """The detector :meth:`to_bytes` saved; a :class:`StateError` for anything else.

        Called on a subclass, the state must be of that detector.
        """
        from driftline.detectors.online.registry import DETECTORS

        body = state.unpack(data)
        name = body["name"]
        if name not in DETECTORS or (cls is not OnlineDetector and name != cls.name):
            raise StateError(f"state of a {name!r} detector, not {getattr(cls, 'name', 'a known one')}")
        if body["river"] != river.__version__ and river_state.has_rust(body["state"]):
            raise StateError(f"{name} state holds river {body['river']}'s internal encoding; this is river "
                             f"{river.__version__}: start the detector fresh")
        try:
            detector = DETECTORS[name](**body["params"])
        except (TypeError, ValueError) as exc:
            raise StateError(f"{name} state has bad parameters: {exc}") from None
        detector._set_state(body["state"])
        detector.n_seen = body["n_seen"]
        return detector


class ErrorStreamDetector(OnlineDetector):
    """Detectors on a 0/1 error stream (1 = the model was wrong).

    Examples
    --------
    >>> from driftline.detectors.online import make_detector
    >>> make_detector('ddm').update(1).drift
    False
    """

    HAS_WARNING = True

    def _values(self, xs: np.ndarray) -> list[Any]:
        if not np.isin(xs, (0.0, 1.0)).all():
            raise ValueError(f"{self.name} takes 0/1 error indicators; the batch has other values")
        values: list[Any] = xs.astype(np.int64).tolist()
        return values


def _check_params(name: str, cls: type, params: dict[str, Any]) -> None:
    """Parameters are plain values of their default's kind, so they are saved as JSON and not misread."""
    defaults = {p.name: p.default for p in inspect.signature(cls).parameters.values()}
    for key, value in params.items():
        default = defaults.get(key)
        if isinstance(default, bool) or isinstance(value, bool):
            ok = isinstance(value, bool) and isinstance(default, bool)
        elif isinstance(default, int | float) or default is None:
            ok = isinstance(value, int | float) and math.isfinite(value) and (default is not None or type(value) is int)
        else:
            ok = type(value) is type(default)
        if not ok:
            raise ValueError(f"bad parameters for {name}: {key}={value!r} (default {default!r})")


def _check_layout(obj: object, fields: tuple[str, ...], transient: frozenset[str]) -> None:
    """Fail loudly if the river build stores its state in other attributes than declared."""
    params = set(inspect.signature(type(obj)).parameters)
    present = set(vars(obj)) - params - transient
    if present != set(fields):
        raise StateError(f"{type(obj).__name__} keeps state in {sorted(present)}, declared {sorted(fields)}: "
                         "this river build is not supported for saving state")


def _check_compatible(name: str, field: str, fresh: object, value: object) -> None:
    def number(v: object) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    if isinstance(fresh, bool):
        ok = isinstance(value, bool)
    elif fresh is None or number(fresh):
        ok = value is None or (number(value) and not (isinstance(value, float) and math.isnan(value)))
    else:
        ok = type(value) is type(fresh)
        if ok and hasattr(fresh, "__getnewargs__"):  # Rust objects: built with these parameters
            ok = fresh.__getnewargs__() == value.__getnewargs__()  # type: ignore[attr-defined]
    if not ok:
        raise StateError(f"{name} state field {field} holds {type(value).__name__}, expected {type(fresh).__name__}")
