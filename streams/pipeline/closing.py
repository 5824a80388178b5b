"""A model's windows closed once the event time has passed them: compare, decide, publish, then store.

Under the model's lease (:class:`~driftline.streams.state.ModelLeases`: one closer per model across
workers, ADR 0011): the window's buckets are added up, compared with the reference
(:func:`~driftline.detectors.alerts.compare_window`), run through the alert policy, the alerts published
(and acknowledged), the retrain step consulted, and only then is the close stored — alert states,
latest statistics, history entry and the closed mark in one call, fenced by the lease's token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from driftline.config import Settings
from driftline.detectors import (
    BUDGET_KEY,
    VOLUME_KEY,
    FeatureWindow,
    ModelReference,
    VolumeBaseline,
    compare_window,
    quality_windows,
    volume_window,
    window_alerts,
)
from driftline.streams.pipeline.model_setup import ModelMonitor
from driftline.streams.pipeline.outputs import Outputs
from driftline.streams.pipeline.retrain import RetrainStep
from driftline.streams.state import (
    CloseResult,
    LeaseLost,
    ModelLeases,
    WindowClose,
    WindowCounts,
    WindowStore,
    window_point,
)

log = logging.getLogger(__name__)

StatisticObserver = Callable[[str, str, str, float], None]
"""``observe(model, feature, test, statistic)`` for every feature of every closed window (the metrics)."""


class WindowCloser:
    """Closes the windows of one model at a time; :meth:`close_due` is called after every applied batch."""

    def __init__(self, settings: Settings, store: WindowStore, leases: ModelLeases, outputs: Outputs,
                 retrain: RetrainStep, *, on_statistic: StatisticObserver | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._clock = clock
        self._store = store
        self._leases = leases
        self._outputs = outputs
        self._retrain = retrain
        self._on_statistic = on_statistic

    async def close_due(self, monitor: ModelMonitor, expected_partitions: int, *,
                        horizon: float | None = None) -> int:
        """Close the model's windows the event time has passed (``horizon``: that event time instead of the
        partitions'), under the model's lease: when the model is spread over partitions, other workers may
        find the same windows closable at the same time. Returns how many it closed."""
        if not await self._closable(monitor, expected_partitions, horizon):
            return 0
        closed = 0
        async with self._leases.hold(monitor.model_id) as lease:
            for window_id in await self._closable(monitor, expected_partitions, horizon):  # the last holder may
                await self._close(monitor, window_id, lease, idle=horizon is not None)     # have closed some
                closed += 1
        return closed

    async def _closable(self, monitor: ModelMonitor, expected_partitions: int, horizon: float | None) -> list[int]:
        layout = monitor.layout
        # FeatureEvents quiet for the idle time (by the clock) while predictions come no longer hold windows open
        idle = self._settings.idle_close_seconds
        stale_before = self._clock() - idle if idle > 0 else None
        return await self._store.closable_buckets(monitor.model_id, bucket_seconds=layout.bucket_seconds,
                                                  lateness_seconds=layout.lateness_seconds,
                                                  expected_partitions=expected_partitions, horizon=horizon,
                                                  features_stale_before=stale_before)

    async def _close(self, monitor: ModelMonitor, window_id: int, lease: str, *, idle: bool = False) -> None:
        layout, model_id = monitor.layout, monitor.model_id
        first = window_id - layout.buckets_per_window + 1
        counts = await self._store.read_buckets(model_id, range(first, window_id + 1))
        reference, counts = await self._binned_on(monitor, first, window_id, counts)
        start = datetime.fromtimestamp(first * layout.bucket_seconds, tz=UTC)
        end = datetime.fromtimestamp((window_id + 1) * layout.bucket_seconds, tz=UTC)
        states = await self._store.alert_states(model_id)
        results = [*compare_window(reference, monitor.spec, counts.features),
                   *quality_windows(reference, monitor.spec, counts.features, tracked=states.keys())]
        baseline = VolumeBaseline.from_dict((await self._store.latest(model_id)).get(VOLUME_KEY, {}).get("baseline"))
        volume, baseline = volume_window(counts.n_events, window_id, baseline, partial_end=idle)
        if volume is not None:
            results.append(volume)
        if self._on_statistic is not None:
            for r in results:
                self._on_statistic(model_id, r.key, r.verdict.test, r.verdict.statistic)
        states, alerts = window_alerts(reference, results, states, monitor.policy, start=start, end=end)
        await self._outputs.alerts(alerts)
        await self._retrain.after_alerts(model_id, monitor.retrain, alerts, end.timestamp())
        if alerts and self._settings.fault_hold_close_seconds:
            log.warning("fault point: alerts of %s window %d published, holding its close for %.1fs", model_id,
                        window_id, self._settings.fault_hold_close_seconds)
            await asyncio.sleep(self._settings.fault_hold_close_seconds)
        history = self._settings.history_windows
        latest = latest_statistics(window_id, end.timestamp(), results,
                                   extra={VOLUME_KEY: {"baseline": baseline.to_dict()},
                                          **({BUDGET_KEY: monitor.budget} if monitor.budget else {})})
        close = WindowClose(
            window_id, end.timestamp(), states, latest,
            point=window_point(window_id, start.timestamp(), end.timestamp(), results) if history > 0 else None,
            history_windows=history, buckets_per_window=layout.buckets_per_window,
        )
        if await self._store.close_window(model_id, close, lease=lease) is CloseResult.LEASE_LOST:
            # Paused past the lease's TTL, and another worker holds it now: nothing was stored; the batch is
            # re-run (what this one published is what the new holder publishes: repeats of the same ids).
            raise LeaseLost(f"model {model_id}: lease lost while closing window {window_id}")


    async def _binned_on(self, monitor: ModelMonitor, first: int, window_id: int,
                         counts: WindowCounts) -> tuple[ModelReference, WindowCounts]:
        """The reference the window's counts are binned on, and the counts judged: a window opened before a
        reference switch keeps the version that binned it; a sliding window across a switch is judged on the
        buckets of its newest bucket's version only (bins of two versions never add up)."""
        if not counts.versions or counts.versions == {monitor.reference.version}:
            return monitor.reference, counts
        model_id = monitor.model_id
        pins = await self._store.bucket_versions(model_id, list(range(first, window_id + 1)))
        version = pins[max(pins)]
        if len(counts.versions) > 1:
            counts = await self._store.read_buckets(model_id, [b for b, v in sorted(pins.items()) if v == version])
        if version == monitor.reference.version:
            return monitor.reference, counts
        reference = await self._store.get_reference_version(model_id, version)
        if reference is None:
            log.error("model %s: window %d is binned on reference version %s, which is no longer kept; judged "
                      "on %s", model_id, window_id, version, monitor.reference.version)
            return monitor.reference, counts
        return reference, counts


def latest_statistics(window_id: int, window_end: float, results: Sequence[FeatureWindow], *,
                      extra: Mapping[str, Mapping[str, object]] | None = None) -> dict[str, str]:
    """Each feature's statistic in this window, as JSON: what ``driftline status`` and the model list show;
    ``extra``: more to keep under a key (the volume's baseline, judged in this window or not)."""
    extra = extra or {}
    return {
        r.key: json.dumps({
            **extra.get(r.key, {}),
            "window": window_id,
            "window_end": window_end,
            "test": r.verdict.test,
            "statistic": r.verdict.statistic if math.isfinite(r.verdict.statistic) else None,
            "threshold": r.threshold_for(r.severity or "warning"),  # the bar it crossed, or the first it would
            "rule": r.rule_for(r.severity or "warning"),
            "p_value": r.p_value,
            "severity": r.severity,
            "n_current": r.n_current,
        })
        for r in results
    } | {key: json.dumps(value) for key, value in extra.items() if key not in {r.key for r in results}}
