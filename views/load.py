"""Read one model's view from Redis: the only I/O of the views layer (everything else is plain data)."""

from __future__ import annotations

from driftline.streams import keys
from driftline.streams.history import History
from driftline.streams.sketch_store import SketchStore
from driftline.views.model_view import ModelView, build_model_view

DASHBOARD_WINDOWS = 200
"""Windows the dashboard draws (the newest); a report draws every window in its range."""


async def load_model_view(store: SketchStore, model_id: str, *, since: float | None = None,
                          until: float | None = None, last: int | None = None) -> ModelView:
    """The model's view over the windows ending in [since, until], or its newest ``last`` windows."""
    redis = store.redis
    history = History(redis)
    windows = await history.windows(model_id, since=since, until=until, last=last)
    if last is not None and windows and since is None:
        since = windows[0].start
    reference = await store.get_reference(model_id)
    alerts = await history.alerts(model_id, since=since, until=until)
    triggers = await history.triggers(model_id, since=since, until=until)
    firing = [k.decode() for k in await redis.hkeys(keys.firing_alerts(model_id))]
    labels = {k.decode(): int(v) for k, v in (await redis.hgetall(keys.label_counts(model_id))).items()}
    performance: dict[int, tuple[int, int]] = {}
    if labels.get("joined"):
        async with redis.pipeline(transaction=False) as pipe:
            for w in windows:
                pipe.hgetall(keys.performance_window(model_id, w.window_id))
            raws = await pipe.execute()
        for w, raw in zip(windows, raws, strict=True):
            if raw:
                performance[w.window_id] = (int(raw.get(b"n", 0)), int(raw.get(b"errors", 0)))
    latest = await store.latest(model_id) if not windows and since is None and until is None else {}
    return build_model_view(model_id, reference, windows, alerts, triggers, firing, performance=performance,
                            labels=labels, latest=latest, since=since, until=until)
