"""Detectors by name, as monitor specs name them."""

from __future__ import annotations

from typing import Any

from driftline.detectors.online.base import OnlineDetector
from driftline.detectors.online.error_stream import DDMDetector, EDDMDetector, HDDMADetector, HDDMWDetector
from driftline.detectors.online.real_valued import ADWINDetector, KSWINDetector, PageHinkleyDetector

DETECTORS: dict[str, type[OnlineDetector]] = {
    cls.name: cls
    for cls in (ADWINDetector, KSWINDetector, PageHinkleyDetector, DDMDetector, EDDMDetector, HDDMADetector,
                HDDMWDetector)
}


def make_detector(name: str, **params: Any) -> OnlineDetector:
    """A fresh detector; unknown names and parameters fail with the valid choices.

    >>> make_detector("adwin", delta=0.01).params
    {'delta': 0.01}
    """
    if name not in DETECTORS:
        raise ValueError(f"unknown online detector {name!r}; choose from {', '.join(sorted(DETECTORS))}")
    try:
        return DETECTORS[name](**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for {name}: {exc}") from None
