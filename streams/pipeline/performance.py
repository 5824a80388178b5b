"""The performance alert: ``__performance__`` fires while windows of predictions do worse than the reference.

After every apply that joined labels (either path), the model's performance windows that changed are judged
under the model's lease (one judge per model at a time, as windows have one closer):

1. **The reference.** Without one, the first performance windows form it: windows are added in order (each
   once a later window has labels, so its own are mostly in) until they hold ``reference_labels`` joined
   labels. It is kept with the judge's state.
2. **The windows judged** are the changed windows after the reference with at least ``min_labels`` joined
   labels, oldest first; a window older than the one judged last is not judged again (the alert follows
   the newest evidence), and one window is judged again only when its label count has doubled (a few looks:
   the false-alarm budget is split over them, :func:`~driftline.detectors.performance_band.alpha_for`).
3. **The rule** (:func:`~driftline.detectors.performance_band.judge_performance`): fire when the window is
   worse than the reference beyond the band (a one-sided test at the spec's ERT), resolve when a judged window is back
   within it (no sign of being worse); in between the alert keeps its state.

Alerts are published before the state is stored (a crash in between republishes the same alert ids).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal, Protocol

from driftline.config import PERFORMANCE_FEATURE, DriftAlert, ModelSpec, TimeWindow, segment_key
from driftline.detectors import PerformanceJudgement, PerformanceState, alert_id, alpha_for, judge_performance
from driftline.streams.pipeline.model_setup import policy_of
from driftline.streams.pipeline.outputs import Outputs
from driftline.streams.pipeline.retrain import RetrainStep
from driftline.streams.state import Join, LabelCounts, LabelStore, ModelLeases, ReferenceStore

log = logging.getLogger(__name__)

REFERENCE_FROM_LABELS = PerformanceState().reference_version
"""The reference version of a performance reference made from the model's first joined labels."""
_NOT_COUNTERS = {"predicted"}


class LabelObserver(Protocol):
    """Told a model's label health after each judged batch (the worker's Prometheus metrics)."""

    def labels(self, model: str, counts: LabelCounts, lags: Iterable[float]) -> None: ...
    def performance(self, model: str, metric: str, value: float, completeness: float | None) -> None: ...


class PerformanceJudge:
    def __init__(self, store: LabelStore, outputs: Outputs, leases: ModelLeases,
                 retrain: RetrainStep | None = None, *, references: ReferenceStore | None = None,
                 observer: LabelObserver | None = None, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._references = references
        self._outputs = outputs
        self._leases = leases
        self._retrain = retrain
        self._observer = observer
        self._clock = clock

    async def judge(self, model_id: str, spec: ModelSpec, joins: Sequence[Join], bucket_seconds: int) -> None:
        """Judge the windows not judged yet (those these joins changed among them: none after a replay, whose
        joins were applied by the crashed attempt); then tell the observer the model's label health."""
        await self._judge_windows(model_id, spec, {j.window_id for j in joins}, bucket_seconds)
        if self._observer is not None:
            counts = await self._store.counts(model_id, self._clock())
            self._observer.labels(model_id, counts, [j.lag_seconds for j in joins if j.lag_seconds is not None])

    async def _judge_windows(self, model_id: str, spec: ModelSpec, changed: set[int], bucket_seconds: int) -> None:
        async with self._leases.hold(model_id):
            stored = PerformanceState.from_bytes(await self._store.performance_state(model_id))
            since = stored.window if stored.window is not None else stored.reference_until + 1
            touched = sorted(changed | set(await self._store.performance_windows(model_id, since=since,
                                                                                 until=1 << 62)))
            if not touched:
                return
            perf = await self._store.performance(model_id, touched)
            alerts: list[DriftAlert] = []
            model_state, model_alerts = await self._judge_slice(model_id, spec, None, stored, touched, perf,
                                                                bucket_seconds)
            alerts += model_alerts
            segments = dict(model_state.segments)
            for segment in sorted({k.split("|", 1)[0] for counts in perf.values() for k in counts if "|" in k}):
                before = PerformanceState.from_dict(segments.get(segment))
                if before.reference is None and model_state.reference is None:
                    continue  # a segment's reference comes from the model's reference windows
                after, segment_alerts = await self._judge_slice(model_id, spec, segment, before, touched, perf,
                                                                bucket_seconds, model_state)
                segments[segment] = after.to_dict()
                alerts += segment_alerts
            state = replace(model_state, segments=segments)
            if alerts:
                await self._outputs.alerts(alerts)
                policy = policy_of(spec.retrain_policy)
                if self._retrain is not None:
                    await self._retrain.after_alerts(model_id, policy, alerts, alerts[-1].window.end.timestamp())
            if state != stored:
                await self._store.put_performance_state(model_id, state.to_bytes())

    async def _judge_slice(self, model_id: str, spec: ModelSpec, segment: str | None, state: PerformanceState,
                           touched: list[int], perf: dict[int, dict[str, float]], bucket_seconds: int,
                           model: PerformanceState | None = None) -> tuple[PerformanceState, list[DriftAlert]]:
        """One slice of the model's labels (all of them, or one segment's): its reference, then its windows."""
        state = replace(state, alpha=alpha_for(spec.performance.ert_windows))
        if state.reference is None:
            state = await self._reference(model_id, spec, segment, state, touched[-1], model)
            if state.reference is None:
                return state, []
        sliced = {w: slice_of(counts, segment) for w, counts in perf.items()}
        return self._judge(model_id, spec, segment, state, touched, sliced, bucket_seconds)

    async def _reference(self, model_id: str, spec: ModelSpec, segment: str | None, state: PerformanceState,
                         newest: int, model: PerformanceState | None = None) -> PerformanceState:
        """The model reference's performance (built from labelled data; the model's slice only), else the slice's
        first joined labels' once they are enough; the state unchanged while neither is there. A segment's come
        from the windows the model's reference came from (the same period), when those were labels."""
        if segment is None and self._references is not None:
            built = await self._references.get_reference(model_id)
            if built is not None and built.performance:
                log.info("model %s: performance reference from reference %s", model_id, built.version)
                return replace(state, reference=dict(built.performance), reference_version=built.version)
        ids = await self._store.performance_windows(model_id, since=-(1 << 62), until=newest)
        perf = {w: slice_of(counts, segment) for w, counts in (await self._store.performance(model_id, ids)).items()}
        labelled = [w for w in ids if perf.get(w, {}).get("n", 0) > 0]
        total: dict[str, float] = {}
        if model is not None and model.reference_version == REFERENCE_FROM_LABELS:
            for w in (w for w in labelled if w <= model.reference_until):
                for name, value in perf[w].items():
                    if name not in _NOT_COUNTERS:
                        total[name] = total.get(name, 0.0) + value
            return replace(state, reference=total, reference_until=model.reference_until,
                           reference_version=REFERENCE_FROM_LABELS) if total.get("n") else state
        for w in labelled[:-1]:  # the newest labelled window may still be filling
            for name, value in perf[w].items():
                if name not in _NOT_COUNTERS:
                    total[name] = total.get(name, 0.0) + value
            if total.get("n", 0) >= spec.performance.reference_labels:
                log.info("model %s%s: performance reference from its first %d joined labels (windows up to %d)",
                         model_id, f" [{segment}]" if segment else "", int(total["n"]), w)
                return replace(state, reference=total, reference_until=w, reference_version=REFERENCE_FROM_LABELS)
        return state

    def _judge(self, model_id: str, spec: ModelSpec, segment: str | None, state: PerformanceState,
               touched: list[int], perf: dict[int, dict[str, float]],
               bucket_seconds: int) -> tuple[PerformanceState, list[DriftAlert]]:
        assert state.reference is not None
        candidates = [w for w in touched if w > state.reference_until and (state.window is None or w >= state.window)]
        eligible = [w for w in candidates if perf.get(w, {}).get("n", 0) >= spec.performance.min_labels]
        alerts: list[DriftAlert] = []
        for window in eligible:  # oldest first: the alert names the first window that is worse
            n = int(perf[window]["n"])
            if window == state.window and n < 2 * state.looked_n:
                continue
            verdict = judge_performance(state.reference, perf[window], alpha=state.alpha)
            state = replace(state, window=window, looked_n=n)
            if verdict is None:
                continue
            if self._observer is not None and segment is None:
                predicted = perf[window].get("predicted", 0.0)
                self._observer.performance(model_id, verdict.metric, verdict.value,
                                           min(1.0, n / predicted) if predicted else None)
            where = _Where(model_id, segment, window, bucket_seconds, state.reference_version)
            if verdict.verdict == "worse" and not state.firing:
                alerts.append(where.alert(verdict, "firing"))
                state = replace(state, firing=True)
            elif verdict.verdict == "within" and state.firing:
                alerts.append(where.alert(verdict, "resolved"))
                state = replace(state, firing=False)
        return state, alerts


def slice_of(counts: dict[str, float], segment: str | None) -> dict[str, float]:
    """A window's counters of one segment (``key=value|<counter>`` fields), or of the whole model.

    >>> slice_of({"n": 3, "err": 1, "region=eu|n": 2, "region=eu|err": 1}, "region=eu")
    {'n': 2, 'err': 1}
    >>> slice_of({"n": 3, "region=eu|n": 2, "predicted": 5}, None)
    {'n': 3, 'predicted': 5}
    """
    if segment is None:
        return {k: v for k, v in counts.items() if "|" not in k}
    prefix = f"{segment}|"
    return {k[len(prefix):]: v for k, v in counts.items() if k.startswith(prefix)}


@dataclass(frozen=True)
class _Where:
    model_id: str
    segment: str | None
    window_id: int
    bucket_seconds: int
    reference_version: str

    def alert(self, verdict: PerformanceJudgement, transition: Literal["firing", "resolved"]) -> DriftAlert:
        start = datetime.fromtimestamp(self.window_id * self.bucket_seconds, tz=UTC)
        end = datetime.fromtimestamp((self.window_id + 1) * self.bucket_seconds, tz=UTC)
        return DriftAlert(
            alert_id=alert_id(model_id=self.model_id, feature=segment_key(PERFORMANCE_FEATURE, self.segment),
                              detector=verdict.metric, window_start=start, window_end=end,
                              state=f"{transition}:critical", reference_version=self.reference_version),
            model_id=self.model_id,
            feature=PERFORMANCE_FEATURE,
            segment=dict([self.segment.split("=", 1)]) if self.segment is not None else None,
            detector=verdict.metric,
            statistic=verdict.value,
            threshold=verdict.band,
            p_value=verdict.p_value,
            reference_value=verdict.reference,
            severity="critical",
            state=transition,
            window=TimeWindow(start=start, end=end),
            reference_version=self.reference_version,
            n_reference=verdict.n_reference,
            n_current=verdict.n,
        )
