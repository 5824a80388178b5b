"""Online (sequential) drift detectors behind one interface, with state that saves to bytes."""

from __future__ import annotations

from driftline.detectors.online.base import OnlineDetector, OnlineVerdict
from driftline.detectors.online.error_stream import DDMDetector, EDDMDetector, HDDMADetector, HDDMWDetector
from driftline.detectors.online.errors import StateError
from driftline.detectors.online.real_valued import ADWINDetector, KSWINDetector, PageHinkleyDetector
from driftline.detectors.online.registry import DETECTORS, make_detector

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
