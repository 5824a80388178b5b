"""An online detector watching one real-valued stream (scores, or one feature), turned into
firing and resolved transitions.

The detector says when a change completes; the watch adds what an alert needs:
whether an alert is already firing (a second detection while firing is not a
new alert), and when to resolve it: after ``resolve_after`` values in a row with
no detection. These detectors find *changes*, not distance from a reference:
"resolved" means the stream has settled (at its new level or back at the old
one); a return to the old level is a change again. The window tests answer
"how far from the reference"; the online detectors answer "when did it change".
Pure and deterministic: the same state and values give the same transitions,
which is what makes replayed batches publish the same alert ids.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from driftline.detectors.online.base import OnlineDetector


@dataclass(frozen=True)
class StreamWatch:
    """What the watch remembers between batches (plain data).

    >>> StreamWatch.from_dict(StreamWatch(True, 3, 10.0).to_dict())
    StreamWatch(firing=True, since_detection=3, since_ts=10.0)
    """

    firing: bool = False
    since_detection: int = 0
    since_ts: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"firing": self.firing, "since_detection": self.since_detection, "since_ts": self.since_ts}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StreamWatch:
        return cls(bool(data["firing"]), int(data["since_detection"]), data.get("since_ts"))


@dataclass(frozen=True)
class WatchTransition:
    """A firing or resolved transition, with the event-time span it covers and the detector's statistic.

    >>> WatchTransition("firing", 0.0, 60.0, 1.5, 600).state
    'firing'
    """

    state: Literal["firing", "resolved"]
    start: float
    end: float
    statistic: float
    n_values: int


def watch(
    detector: OnlineDetector,
    state: StreamWatch,
    values: np.ndarray,
    times: np.ndarray,
    *,
    resolve_after: int,
) -> tuple[StreamWatch, list[WatchTransition]]:
    """Feed ``values`` (finite, in stream order, with their event ``times``) to ``detector``.

    >>> from driftline.detectors.online import make_detector
    >>> d = make_detector("page_hinkley", threshold=5.0)
    >>> xs = np.r_[np.zeros(200), np.full(200, 3.0), np.zeros(300)]
    >>> s, out = watch(d, StreamWatch(), xs, np.arange(xs.size, dtype=float), resolve_after=100)
    >>> [(t.state, int(t.end)) for t in out]  # up at 200, settled, back down at 400, settled
    [('firing', 201), ('resolved', 301), ('firing', 401), ('resolved', 501)]
    """
    start_index = detector.n_seen
    detections = [v for v in detector.update_many(values) if v.drift]
    out: list[WatchTransition] = []
    cursor = 0
    for verdict in detections:
        position = verdict.index - start_index
        state = _clean_run(state, cursor, position, times, resolve_after, out)
        if not state.firing:
            since = state.since_ts if state.since_ts is not None else float(times[0])
            out.append(WatchTransition("firing", since, float(times[position]), verdict.statistic or 0.0,
                                  state.since_detection + 1))
        state = StreamWatch(firing=True, since_detection=0, since_ts=float(times[position]))
        cursor = position + 1
    state = _clean_run(state, cursor, len(values), times, resolve_after, out)
    return state, out


def _clean_run(
    state: StreamWatch, start: int, stop: int, times: np.ndarray, resolve_after: int, out: list[WatchTransition]
) -> StreamWatch:
    """Values ``start..stop-1`` passed without a detection."""
    n = stop - start
    if n <= 0:
        return state
    if state.since_ts is None:
        state = replace(state, since_ts=float(times[start]))
    if state.firing and state.since_detection + n >= resolve_after:
        at = start + (resolve_after - state.since_detection) - 1
        out.append(WatchTransition("resolved", state.since_ts or float(times[start]), float(times[at]), 0.0,
                                   resolve_after))
        return StreamWatch(firing=False, since_detection=state.since_detection + n, since_ts=float(times[at]))
    return replace(state, since_detection=state.since_detection + n)
