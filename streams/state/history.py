"""What the dashboard and reports draw: every closed window's statistics, and the alerts and retrain
triggers, kept in Redis under the model's hash tag with bounded retention.

- ``dl:{m}:hist:windows`` — a stream, one entry per closed window, its id the window's end in
  milliseconds of event time (so ``XRANGE`` answers "from ... to ..."). Fields: ``window``, ``start``,
  ``end``, then per feature (``feature|key=value`` for a segment) a compact JSON
  ``{"test", "s" statistic, "t" threshold, "p", "sev", "n", "c" current counts on the reference's bins}``.
  Written by the window's close script (lua/close.lua), so each window is there exactly once; trimmed to the
  newest ``history_windows`` (approximately: ``MAXLEN ~`` trims whole stream nodes, which is cheap).
- ``dl:{m}:hist:alerts`` and ``dl:{m}:hist:triggers`` — sorted sets of the published JSON, scored by
  event time (an alert's window end, a trigger's training-window end). Added after the broker acknowledged
  the message; a retried batch publishes the same bytes again and ``ZADD`` of an equal member is a no-op,
  so at-least-once publishing still stores each once. Trimmed to the newest ``history_events``.

Nothing here is on the per-event path: one write per closed window and one per alert or trigger.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from driftline.config import DriftAlert, RetrainTrigger
from driftline.detectors import FeatureWindow
from driftline.streams.state import keys
from driftline.streams.state.client import RedisClient, raw

WINDOW_FIELDS = ("window", "start", "end")


@dataclass(frozen=True)
class FeaturePoint:
    """One feature's statistic in one closed window."""

    test: str
    statistic: float | None
    threshold: float | None
    p_value: float | None
    severity: str | None
    n: int
    counts: tuple[int, ...]

    def to_json(self) -> str:
        return json.dumps({"test": self.test, "s": self.statistic, "t": self.threshold, "p": self.p_value,
                           "sev": self.severity, "n": self.n, "c": list(self.counts)}, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> FeaturePoint:
        d = json.loads(raw)
        return cls(d["test"], d["s"], d["t"], d["p"], d["sev"], int(d["n"]), tuple(d["c"]))

    @classmethod
    def of(cls, result: FeatureWindow) -> FeaturePoint:
        """The point of a window's result; the current counts come back from its proportions.

        >>> from driftline.detectors.window_compare import WindowVerdict
        >>> v = WindowVerdict('psi', 0.3, 0.25, 100, 50, drift=True, warning=True)
        >>> FeaturePoint.of(FeatureWindow('amount', v, None, (0.5, 0.5), (0.2, 0.8))).counts
        (10, 40)
        """
        verdict = result.verdict
        statistic = verdict.statistic if math.isfinite(verdict.statistic) else None
        counts = tuple(round(p * result.n_current) for p in result.current)
        return cls(verdict.test, statistic, result.threshold_for(result.severity or "warning"), result.p_value,
                   result.severity, result.n_current, counts)


@dataclass(frozen=True)
class WindowPoint:
    """One closed window of a model: its bounds (epoch seconds) and each feature's point."""

    window_id: int
    start: float
    end: float
    features: dict[str, FeaturePoint] = field(default_factory=dict)

    def fields(self) -> list[str]:
        """The stream entry's fields and values, flat.

        >>> WindowPoint(7, 0.0, 60.0).fields()
        ['window', '7', 'start', '0.0', 'end', '60.0']
        """
        flat = ["window", str(self.window_id), "start", repr(self.start), "end", repr(self.end)]
        for name in sorted(self.features):
            flat += [name, self.features[name].to_json()]
        return flat

    @classmethod
    def from_fields(cls, raw: dict[bytes, bytes]) -> WindowPoint:
        values = {k.decode(): v for k, v in raw.items()}
        features = {k: FeaturePoint.from_json(v) for k, v in values.items() if k not in WINDOW_FIELDS}
        return cls(int(values["window"]), float(values["start"]), float(values["end"]), features)


def window_entry_id(end_seconds: float) -> str:
    """The stream entry id of a window ending at ``end_seconds``.

    >>> window_entry_id(1767229200.0)
    '1767229200000-0'
    """
    return f"{round(end_seconds * 1000)}-0"


def window_point(window_id: int, start: float, end: float, results: Iterable[FeatureWindow]) -> WindowPoint:
    return WindowPoint(window_id, start, end, {r.key: FeaturePoint.of(r) for r in results})


class RedisHistory:
    """The :class:`~driftline.streams.state.ports.HistoryStore`: reads and appends the keys above."""

    def __init__(self, client: RedisClient, *, keep_events: int = 1000) -> None:
        self._redis = client
        self._keep_events = keep_events

    async def record_alert(self, alert: DriftAlert, value: bytes) -> None:
        await self._add_event(keys.alert_history(alert.model_id), alert.window.end.timestamp(), value)

    async def record_trigger(self, trigger: RetrainTrigger, value: bytes) -> None:
        await self._add_event(keys.trigger_history(trigger.model_id), trigger.training_window.end.timestamp(), value)

    async def _add_event(self, key: str, score: float, value: bytes) -> None:
        if self._keep_events <= 0:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {value: score})
            pipe.zremrangebyrank(key, 0, -self._keep_events - 1)
            await pipe.execute()

    async def windows(self, model_id: str, *, since: float | None = None, until: float | None = None,
                      last: int | None = None) -> list[WindowPoint]:
        """Closed windows ending in [since, until] (epoch seconds), oldest first; the newest ``last`` of them."""
        low = window_entry_id(since) if since is not None else "-"
        high = f"{round(until * 1000)}-18446744073709551615" if until is not None else "+"
        key = keys.window_history(model_id)
        if last is not None:
            entries = list(reversed(await self._redis.xrevrange(key, high, low, count=last) or []))
        else:
            entries = await self._redis.xrange(key, low, high) or []
        return [WindowPoint.from_fields({raw(k): raw(v) for k, v in (fields or {}).items()}) for _, fields in entries]

    async def alerts(self, model_id: str, *, since: float | None = None,
                     until: float | None = None) -> list[DriftAlert]:
        raw = await self._events(keys.alert_history(model_id), since, until)
        return [DriftAlert.model_validate_json(v) for v in raw]

    async def triggers(self, model_id: str, *, since: float | None = None,
                       until: float | None = None) -> list[RetrainTrigger]:
        raw = await self._events(keys.trigger_history(model_id), since, until)
        return [RetrainTrigger.model_validate_json(v) for v in raw]

    async def _events(self, key: str, since: float | None, until: float | None) -> Sequence[bytes]:
        low = since if since is not None else "-inf"
        high = until if until is not None else "+inf"
        return [raw(v) for v in await self._redis.zrangebyscore(key, low, high)]  # type: ignore[arg-type]  # members only: no WITHSCORES
