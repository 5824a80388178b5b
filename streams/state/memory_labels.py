"""The label side of the in-memory state: kept predictions, waiting labels, joins, performance windows.

Both halves of the join, with the semantics of ``lua/apply_labels.lua`` (a label joins a kept prediction, or
waits for it) and of the join section of ``lua/apply.lua`` (a prediction meets the label waiting for it): a
join counts once, when it removes the waiting side; a label and a prediction that crossed make the later
apply a :attr:`~driftline.streams.state.ports.ApplyResult.JOIN_RACE`. Kept days expire by their score (the
lookup skips them); the hashes themselves never expire here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from driftline.streams.state.label_values import (
    Join,
    KeptPrediction,
    LabelBatch,
    LabelCounts,
    lag_bin,
)
from driftline.streams.state.ports import (
    ApplyResult,
    ModelBatch,
)


@dataclass
class LabelSide:
    """One model's label state: what its label, waiting-label, kept-prediction and performance keys hold."""

    watermarks: dict[int, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    predictions: dict[int, dict[str, bytes]] = field(default_factory=dict)
    days: dict[int, float] = field(default_factory=dict)
    """Kept day -> when it expires."""
    pending: dict[str, bytes] = field(default_factory=dict)
    due: dict[str, float] = field(default_factory=dict)
    performance: dict[int, dict[str, float]] = field(default_factory=dict)
    performance_state: bytes | None = None

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def join(self, join: Join) -> None:
        if not join.counts:
            self.add("not_comparable")
            return
        window = self.performance.setdefault(join.window_id, {})
        for name, value in join.counts.items():
            window[name] = window.get(name, 0) + value
        self.add("joined")
        self.add("errors", int(join.counts.get("err", 0)))
        lag = lag_bin(join.lag_seconds)
        if lag:
            self.add(f"lag:{lag}")

    def live_days(self, now: float) -> list[int]:
        return sorted((d for d, expiry in self.days.items() if expiry >= now), reverse=True)


def keep_and_join(side: LabelSide, batch: ModelBatch) -> ApplyResult | None:
    """The prediction half, before the watermark moves: JOIN_RACE (nothing changed) when a label began waiting
    for a prediction this batch keeps; else keep the predictions, count them per window, apply the joins."""
    kept = [pid for predictions in batch.predictions.values() for pid in predictions]
    if batch.keep_predictions_seconds > 0 and any(pid in side.pending for pid in kept):
        return ApplyResult.JOIN_RACE
    for day, predictions in batch.predictions.items():
        side.predictions.setdefault(day, {}).update(predictions)
    if batch.keep_predictions_seconds <= 0:
        return None
    expiry = float(int(batch.now) + batch.keep_predictions_seconds + 86_400)
    for day in batch.predictions:
        side.days[day] = max(side.days.get(day, expiry), expiry)
    for window_id, n in batch.predicted.items():
        window = side.performance.setdefault(window_id, {})
        window["predicted"] = window.get("predicted", 0) + n
    for join in batch.joins:
        if side.pending.pop(join.prediction_id, None) is not None:
            side.due.pop(join.prediction_id, None)
            side.join(join)
    return None


class MemoryLabelStore:
    def __init__(self, side_of: Callable[[str], LabelSide], states_of: Callable[[str], dict[str, bytes]]) -> None:
        self._side = side_of
        self._states = states_of

    async def applied_offsets(self, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        return {(m, p): self._side(m).watermarks[p] for m, p in pairs if p in self._side(m).watermarks}

    async def find_predictions(self, model_id: str, prediction_ids: Sequence[str],
                               now: float) -> tuple[dict[str, KeptPrediction], tuple[int, ...]]:
        side = self._side(model_id)
        days = tuple(side.live_days(now))
        found: dict[str, KeptPrediction] = {}
        for day in days:
            kept = side.predictions.get(day, {})
            for pid in prediction_ids:
                if pid in kept and pid not in found:
                    found[pid] = KeptPrediction(day, kept[pid])
        return found, days

    async def detector_states(self, model_id: str, fields: Sequence[str]) -> dict[str, bytes]:
        states = self._states(model_id)
        return {f: states[f] for f in fields if f in states}

    async def apply(self, batch: LabelBatch) -> ApplyResult:
        side = self._side(batch.model_id)
        applied = side.watermarks.get(batch.partition, -1)
        if applied >= batch.max_offset:
            return ApplyResult.ALREADY_APPLIED
        if applied >= batch.min_offset:
            return ApplyResult.OVERLAPS_WATERMARK
        if batch.pending:
            if any(day not in batch.days for day in side.live_days(batch.now)):
                return ApplyResult.JOIN_RACE
            if any(label.prediction_id in side.predictions.get(day, {})
                   for label in batch.pending for day in batch.days):
                return ApplyResult.JOIN_RACE
        self._states(batch.model_id).update(batch.states)
        for join in batch.joins:
            kept = side.predictions.get(join.day if join.day is not None else -1, {})
            if kept.pop(join.prediction_id, None) is not None:
                side.join(join)
            else:
                side.add("duplicates")
        room = batch.max_pending - len(side.pending)
        for label in batch.pending:
            if room <= 0:
                side.add("dropped")
            elif label.prediction_id not in side.pending:
                side.pending[label.prediction_id] = label.value
                side.due[label.prediction_id] = label.due
                room -= 1
            else:
                side.add("duplicates")
        overdue = sorted((due, pid) for pid, due in side.due.items() if due < batch.now)[:1000]
        for _, pid in overdue:
            del side.pending[pid], side.due[pid]
        if overdue:
            side.add("unmatched", len(overdue))
        side.watermarks[batch.partition] = batch.max_offset
        return ApplyResult.APPLIED

    async def counts(self, model_id: str, now: float) -> LabelCounts:
        side = self._side(model_id)
        c = side.counts
        return LabelCounts(joined=c.get("joined", 0), pending=len(side.pending), unmatched=c.get("unmatched", 0),
                           dropped=c.get("dropped", 0), duplicates=c.get("duplicates", 0),
                           overdue=sum(1 for due in side.due.values() if due < now), errors=c.get("errors", 0),
                           lag={k[4:]: v for k, v in c.items() if k.startswith("lag:")})

    async def performance(self, model_id: str, window_ids: Sequence[int]) -> dict[int, dict[str, float]]:
        perf = self._side(model_id).performance
        return {w: {k: float(v) for k, v in perf[w].items()} for w in window_ids if perf.get(w)}

    async def performance_windows(self, model_id: str, *, since: int, until: int) -> list[int]:
        return sorted(w for w in self._side(model_id).performance if since <= w <= until)

    async def performance_state(self, model_id: str) -> bytes | None:
        return self._side(model_id).performance_state

    async def put_performance_state(self, model_id: str, state: bytes) -> None:
        self._side(model_id).performance_state = state
