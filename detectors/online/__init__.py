"""Online (sequential) drift detectors behind one interface, with state that saves to bytes."""

from __future__ import annotations

from driftline.detectors.online.base import OnlineDetector, OnlineVerdict
from driftline.detectors.online.detectors import (
    ADWINDetector,
    DDMDetector,
    EDDMDetector,
    HDDMADetector,
    HDDMWDetector,
    KSWINDetector,
    PageHinkleyDetector,
)
from driftline.detectors.online.registry import DETECTORS, make_detector
from driftline.detectors.online.state import StateError

__all__ = [
    "DETECTORS",
    "ADWINDetector",
    "DDMDetector",
    "EDDMDetector",
    "HDDMADetector",
    "HDDMWDetector",
    "KSWINDetector",
    "OnlineDetector",
    "OnlineVerdict",
    "PageHinkleyDetector",
    "StateError",
    "make_detector",
]
