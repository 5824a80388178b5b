"""Read one model's view from state (through the ports, never a key): the views' reads live here and in
the dashboard's model list; everything else in views/ is plain data."""

from __future__ import annotations

import dataclasses
import time

from driftline.detectors import BUDGET_KEY, PerformanceState
from driftline.streams import State
from driftline.views.model_view import ModelView, build_model_view

DASHBOARD_WINDOWS = 200
"""Windows the dashboard draws (the newest); a report draws every window in its range."""


async def load_model_view(state: State, model_id: str, *, since: float | None = None,
                          until: float | None = None, last: int | None = None) -> ModelView:
    """The model's view over the windows ending in [since, until], or its newest ``last`` windows."""
    windows = await state.history.windows(model_id, since=since, until=until, last=last)
    if last is not None and windows and since is None:
        since = windows[0].start
    reference = await state.windows.get_reference(model_id)
    alerts = await state.history.alerts(model_id, since=since, until=until)
    triggers = await state.history.triggers(model_id, since=since, until=until)
    firing = await state.retrain.firing_keys(model_id)
    counts = await state.labels.counts(model_id, time.time())
    labels = counts.tallies()
    performance: dict[int, dict[str, float]] = {}
    judged = None
    if labels["joined"]:
        performance = await state.labels.performance(model_id, [w.window_id for w in windows])
        judged = PerformanceState.from_bytes(await state.labels.performance_state(model_id))
    latest = await state.windows.latest(model_id)
    view = build_model_view(model_id, reference, windows, alerts, triggers, firing, performance=performance,
                            labels=labels, judged=judged, label_lag=dict(counts.lag), since=since, until=until,
                            latest=latest if not windows and since is None and until is None else {})
    return dataclasses.replace(view, budget=dict(latest.get(BUDGET_KEY, {})))
