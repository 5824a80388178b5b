"""The ``volume`` signal: a window's number of events against the model's usual volume.

A reference is training data and says nothing about traffic, so the usual volume is the model's own: the
median event count of its last :data:`BASELINE_WINDOWS` closed windows (at least :data:`MIN_BASELINE` of them
before anything is judged). A window fires when its count is off the median by a factor of
:data:`WARNING_RATIO` (warning) or :data:`CRITICAL_RATIO` (critical), either way (a drop or a spike), **and**
beyond Poisson noise at ``alpha`` (which matters only for small counts). The statistic is the ratio count /
median; the threshold the ratio it crossed.

Windows that warn or fire are not added to the baseline: a lasting drop keeps firing (it is not
learned as the new normal) until the volume comes back. Windows that may be partial are neither judged nor
added: the first after a gap in the closed windows (its traffic may have begun mid-window) and one closed by
the idle timer (its traffic may have stopped mid-window: silence is the signal for that).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from scipy.stats import norm

from driftline.config import VOLUME_FEATURE
from driftline.detectors.stats.verdict import WindowVerdict
from driftline.detectors.window_compare import FeatureWindow

VOLUME = "volume"
VOLUME_KEY = f"{VOLUME_FEATURE}#{VOLUME}"
BASELINE_WINDOWS = 24
MIN_BASELINE = 6
WARNING_RATIO = 2.0
CRITICAL_RATIO = 4.0
VOLUME_ALPHA = 1e-6


@dataclass(frozen=True)
class VolumeBaseline:
    """The event counts of the model's last closed windows that were judged normal, newest last, and the
    id of the last window closed (to see a gap).

    >>> VolumeBaseline.from_dict(VolumeBaseline((10, 12), 7).to_dict())
    VolumeBaseline(counts=(10, 12), last_window=7)
    """

    counts: tuple[int, ...] = field(default=())
    last_window: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {"counts": list(self.counts), "last_window": self.last_window}

    @classmethod
    def from_dict(cls, data: dict[str, object] | None) -> VolumeBaseline:
        if not data:
            return cls()
        counts = data.get("counts") or []
        last = data.get("last_window")
        return cls(tuple(int(c) for c in counts) if isinstance(counts, list) else (),
                   int(last) if isinstance(last, int) else None)


def volume_window(n_events: int, window_id: int, baseline: VolumeBaseline, *, partial_end: bool = False,
                  alpha: float = VOLUME_ALPHA) -> tuple[FeatureWindow | None, VolumeBaseline]:
    """The window's volume verdict (None: not judged) and the baseline after it.

    >>> base = VolumeBaseline((1000, 980, 1010, 995, 1020, 1005), 5)
    >>> w, after = volume_window(100, 6, base)
    >>> w.key, round(w.verdict.statistic, 2), w.severity, after.counts == base.counts
    ('__volume__#volume', 0.1, 'critical', True)
    >>> w, after = volume_window(990, 6, base)
    >>> w.severity, after.counts[-1]
    (None, 990)
    >>> volume_window(100, 9, base)[0] is None  # after a gap: may be partial
    True
    """
    after_gap = baseline.last_window is not None and window_id != baseline.last_window + 1
    if partial_end or after_gap or len(baseline.counts) < MIN_BASELINE:
        admitted = baseline.counts if partial_end or after_gap else (*baseline.counts, n_events)
        return None, VolumeBaseline(admitted[-BASELINE_WINDOWS:], window_id)
    verdict = _verdict(n_events, baseline.counts, alpha)
    result = FeatureWindow(VOLUME_FEATURE, verdict, None, (1.0,), (verdict.statistic,), signal=VOLUME)
    counts = baseline.counts if result.severity is not None else (*baseline.counts, n_events)
    return result, VolumeBaseline(tuple(counts[-BASELINE_WINDOWS:]), window_id)


def _verdict(n: int, counts: Sequence[int], alpha: float) -> WindowVerdict:
    usual = float(sorted(counts)[len(counts) // 2])
    ratio = n / usual if usual > 0 else math.inf
    beyond_noise = abs(n - usual) > float(norm.isf(alpha / 2)) * math.sqrt(max(usual, 1.0))
    low = ratio < 1
    factor = (1 / ratio if ratio > 0 else math.inf) if low else ratio
    critical = beyond_noise and factor >= CRITICAL_RATIO
    warning = beyond_noise and factor >= WARNING_RATIO
    threshold = (1 / CRITICAL_RATIO if critical else 1 / WARNING_RATIO) if low else (
        CRITICAL_RATIO if critical else WARNING_RATIO)
    warning_threshold = 1 / WARNING_RATIO if low else WARNING_RATIO
    return WindowVerdict(VOLUME, ratio, threshold, int(usual), n, drift=critical, warning=warning,
                         warning_threshold=warning_threshold)
