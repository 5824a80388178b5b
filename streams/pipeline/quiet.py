"""Models whose events stop: the windows their event time has passed by the wall clock close, and a model
silent for long enough gets a ``silence`` alert.

Event time only advances with events, so a model that stops sending never closes its last window and raises
nothing. The worker keeps, per model it has seen, its largest event time and the wall-clock moment of its last
batch (:class:`QuietModels`); at its idle moments it closes what the clock says has passed
(``DRIFTLINE_IDLE_CLOSE_SECONDS``) and, after ``DRIFTLINE_SILENCE_SECONDS`` without an event, publishes a
``silence`` alert on ``__volume__``; the model's next event resolves it. The firing alert is kept in the
model's firing set (the retrain store), so a worker that takes the model over resolves a silence another one
raised.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from driftline.config import VOLUME_FEATURE, DriftAlert, TimeWindow
from driftline.detectors import alert_id

SILENCE = "silence"


@dataclass
class _Seen:
    event_time: float
    wall: float
    ready_at: float
    """The event time at which the last event's bucket (and the lateness) has passed: when to close."""
    closed: bool = False
    silenced: bool = False


class QuietModels:
    """The models seen lately, for closing the windows of those whose events stopped and telling of silence.

    A model's event time is taken to advance with the wall clock once ``idle_seconds`` have passed without an
    event: ``horizon`` = its largest event time + the wall-clock time since. It is due once that horizon has
    passed the last event's bucket and the lateness (one close then, nothing more until its next event). After
    ``silence_seconds`` without an event it is :meth:`silent` (once, until it is heard again).

    >>> now = [100.0]
    >>> q = QuietModels(30.0, 120.0, clock=lambda: now[0])
    >>> q.saw("m", 590.0, bucket_seconds=60, lateness_seconds=10)  # its bucket [540, 600) closes at 610
    >>> now[0] = 125.0; q.due()  # quiet for 25 s: not yet
    []
    >>> now[0] = 131.0; q.due()  # 31 s: idle, and 590 + 31 = 621 >= 610
    [('m', 621.0)]
    >>> q.judged("m"); now[0] = 170.0; q.due()
    []
    >>> now[0] = 221.0; q.silent()
    [('m', 590.0, 121.0)]
    >>> q.silenced("m"); q.silent(), q.saw("m", 700.0, bucket_seconds=60, lateness_seconds=10)
    ([], 590.0)
    """

    def __init__(self, idle_seconds: float, silence_seconds: float = 0.0, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._idle = idle_seconds
        self._silence = silence_seconds
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        self._sighted: set[str] = set()

    def saw(self, model_id: str, event_time: float, *, bucket_seconds: int, lateness_seconds: int) -> float | None:
        """A batch of the model's events; the event time its silence began when it was silenced, else None."""
        before = self._seen.get(model_id)
        latest = max(event_time, before.event_time) if before else event_time
        ready_at = (math.floor(latest / bucket_seconds) + 1) * bucket_seconds + lateness_seconds
        self._seen[model_id] = _Seen(latest, self._clock(), ready_at)
        return before.event_time if before is not None and before.silenced else None

    def first_sight(self, model_id: str) -> bool:
        """True once per model: the first time this worker sees it (a silence may be firing from before)."""
        if model_id in self._sighted:
            return False
        self._sighted.add(model_id)
        return True

    def due(self) -> list[tuple[str, float]]:
        """(model, its event-time horizon by the clock) of each model quiet for the idle time."""
        if self._idle <= 0:
            return []
        now = self._clock()
        return [(m, s.event_time + (now - s.wall)) for m, s in sorted(self._seen.items())
                if not s.closed and now - s.wall >= self._idle and s.event_time + (now - s.wall) >= s.ready_at]

    def judged(self, model_id: str) -> None:
        """The model's windows up to its last event's have closed: nothing more to close until it is heard."""
        if model_id in self._seen:
            self._seen[model_id].closed = True

    def silent(self) -> list[tuple[str, float, float]]:
        """(model, its last event time, seconds of quiet) of each model silent for ``silence_seconds`` and not
        told yet."""
        if self._silence <= 0:
            return []
        now = self._clock()
        return [(m, s.event_time, now - s.wall) for m, s in sorted(self._seen.items())
                if not s.silenced and now - s.wall >= self._silence]

    def silenced(self, model_id: str) -> None:
        if model_id in self._seen:
            self._seen[model_id].silenced = True


def silence_alert(model_id: str, since: float, until: float, quiet_seconds: float,
                  state: Literal["firing", "resolved"], silence_seconds: float) -> DriftAlert:
    """The ``silence`` alert of a model quiet since its event time ``since`` (firing), or heard again at
    ``until`` (resolved). Its id names the silence's start, so a replay publishes the same one.

    >>> silence_alert("m", 600.0, 600.0, 700.0, "firing", 600.0).detector
    'silence'
    """
    start = datetime.fromtimestamp(since, tz=UTC)
    end = datetime.fromtimestamp(max(until, since), tz=UTC)
    return DriftAlert(
        alert_id=alert_id(model_id=model_id, feature=VOLUME_FEATURE, detector=SILENCE, window_start=start,
                          window_end=start, state=f"{state}:warning", reference_version="wall-clock"),
        model_id=model_id,
        feature=VOLUME_FEATURE,
        detector=SILENCE,
        statistic=round(quiet_seconds, 1) if state == "firing" else 0.0,
        threshold=silence_seconds,
        severity="warning",
        state=state,
        window=TimeWindow(start=start, end=end),
        reference_version="wall-clock",
        n_reference=0,
        n_current=0,
    )
