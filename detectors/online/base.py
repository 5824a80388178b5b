"""One interface over river's drift detectors: typed verdicts, explicit resets, state as bytes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from driftline.detectors.online import state


@dataclass(frozen=True)
class OnlineVerdict:
    """What one value did to a detector. ``index`` counts values from 0 since the detector was made.

    >>> OnlineVerdict('adwin', 7, drift=True).warning
    False
    """

    detector: str
    index: int
    drift: bool
    warning: bool = False
    statistic: float | None = None


class OnlineDetector(ABC):
    """A river detector behind a typed surface.

    After a drift the detector starts over from the next value: the wrapper replaces
    river's object with a fresh one at once (river would do it silently on the next
    call), so state saved right after a drift is simply a fresh detector.

    >>> from driftline.detectors.online import make_detector
    >>> d = make_detector('page_hinkley')
    >>> d.update(0.5).index, d.n_seen
    (0, 1)
    >>> OnlineDetector.from_bytes(d.to_bytes(b'k'), b'k').n_seen
    1
    """

    name: ClassVar[str]
    STATE_FIELDS: ClassVar[tuple[str, ...]]
    """The river attributes that make up the state (documentation, and compared by tests)."""

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)
        self._river = self._make()
        self.n_seen = 0

    @abstractmethod
    def _make(self) -> Any:
        """A fresh river detector with ``self.params``."""

    def _statistic(self) -> float | None:
        return None

    def _check(self, x: float) -> float:
        return float(x)

    def update(self, x: float) -> OnlineVerdict:
        self._river.update(self._check(x))
        verdict = OnlineVerdict(
            detector=self.name,
            index=self.n_seen,
            drift=bool(self._river.drift_detected),
            warning=bool(getattr(self._river, "warning_detected", False)),
            statistic=self._statistic(),
        )
        self.n_seen += 1
        if verdict.drift:
            self._river = self._fresh_after_drift()
        return verdict

    def _fresh_after_drift(self) -> Any:
        """The detector to continue with after a drift: by default a fresh one."""
        return self._make()

    def update_many(self, xs: ArrayLike) -> list[OnlineVerdict]:
        """Feed a batch in order; return only the verdicts with a drift or a warning."""
        update = self.update
        return [v for v in map(update, np.asarray(xs, dtype=np.float64).ravel().tolist()) if v.drift or v.warning]

    def to_bytes(self, key: bytes) -> bytes:
        return state.seal(self.name, self.params, self.n_seen, self._river, key)

    @classmethod
    def from_bytes(cls, data: bytes, key: bytes) -> OnlineDetector:
        header, river_detector = state.unseal(data, key)
        if cls is not OnlineDetector and header["name"] != cls.name:
            raise state.StateError(f"state of a {header['name']} detector, not {cls.name}")
        from driftline.detectors.online.registry import DETECTORS  # the classes, by name

        detector_cls = DETECTORS[header["name"]]
        detector = detector_cls(**header["params"])
        detector._river = river_detector
        detector.n_seen = int(header["n_seen"])
        return detector

    def state_values(self) -> dict[str, Any]:
        """The declared state fields that Python can read (for tests and debugging)."""
        return {f: getattr(self._river, f) for f in self.STATE_FIELDS if hasattr(self._river, f)}


class ErrorStreamDetector(OnlineDetector):
    """Detectors on a 0/1 error stream (1 = the model was wrong).

    >>> from driftline.detectors.online import make_detector
    >>> make_detector('ddm').update(1).drift
    False
    """

    def _check(self, x: float) -> float:
        if x not in (0, 1):
            raise ValueError(f"{self.name} takes 0/1 error indicators, got {x!r}")
        return int(x)
