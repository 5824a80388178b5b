"""``driftline status``: each model's features with their latest window statistic, worst first."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from driftline.config.events import PERFORMANCE_FEATURE
from driftline.streams import keys
from driftline.streams.sketch_store import SketchStore

_RANK = {"critical": 0, "warning": 1, None: 2}


def verdict_word(severity: str | None, has_data: bool = True) -> str:
    """The feature's state in one word: ``DRIFT``, ``warning``, ``ok`` or ``no data``.

    >>> verdict_word("critical"), verdict_word(None), verdict_word(None, has_data=False)
    ('DRIFT', 'ok', 'no data')
    """
    if not has_data:
        return "no data"
    return {"critical": "DRIFT", "warning": "warning"}.get(severity or "", "ok")


async def status_lines(store: SketchStore) -> list[str]:
    """A plain-text table (words, not colours, so it reads anywhere), worst feature first per model."""
    models = await store.model_ids()
    if not models:
        return ["no models yet: build a reference with `driftline reference build`"]
    lines = [f"{'MODEL':<24} {'FEATURE':<26} {'TEST':<14} {'STATISTIC':>9} {'P':>8}  {'STATE':<8} {'ALERT':<8} "
             f"{'N':>7}  LAST WINDOW END"]
    for model_id in models:
        latest = await store.latest(model_id)
        reference = await store.get_reference(model_id)
        firing = await _firing(store, model_id)
        features = sorted(set(reference.features) | set(latest)) if reference else sorted(latest)
        rows = [_row(model_id, name, latest.get(name, {}), firing.get(name, False)) for name in features]
        performance = await _performance(store, model_id, firing.get(PERFORMANCE_FEATURE, False))
        if performance is not None:
            rows.append(performance)
        lines += [line for _, line in sorted(rows)]
    return lines


async def _firing(store: SketchStore, model_id: str) -> dict[str, bool]:
    """Feature (``feature|key=value`` for a segment) -> whether any of its alerts is firing, whatever
    the detector (window tests, online detectors, labels)."""
    keys_firing = await store.redis.hkeys(keys.firing_alerts(model_id))
    firing: dict[str, bool] = {}
    for raw in keys_firing:
        feature, segment, _ = raw.decode().split("|", 2)
        firing[f"{feature}|{segment}" if segment else feature] = True
    return firing


async def _performance(store: SketchStore, model_id: str, firing: bool) -> tuple[tuple[Any, ...], str] | None:
    """A row for the joined labels' error rate, when the model has any."""
    counts = {k.decode(): int(v) for k, v in (await store.redis.hgetall(keys.label_counts(model_id))).items()}
    joined = counts.get("joined", 0)
    if not joined:
        return None
    rate = counts.get("errors", 0) / joined
    stat = {"test": "error_rate", "statistic": rate, "n_current": joined, "severity": "critical" if firing else None}
    row_key, line = _row(model_id, PERFORMANCE_FEATURE, stat, firing)
    return row_key, f"{line}  ({counts.get('unmatched', 0)} unmatched)"


def _row(model_id: str, feature: str, stat: Mapping[str, Any], firing: bool) -> tuple[tuple[Any, ...], str]:
    value, threshold, p = stat.get("statistic"), stat.get("threshold"), stat.get("p_value")
    end = stat.get("window_end")
    when = datetime.fromtimestamp(end, tz=UTC).strftime("%Y-%m-%d %H:%M UTC") if end else "-"
    has_data = value is not None
    alert = "firing" if firing else "-"
    ratio = value / threshold if has_data and threshold else -1.0
    value_text = f"{value:9.3f}" if has_data else f"{'-':>9}"
    p_text = f"{p:8.1e}" if p is not None else f"{'-':>8}"
    line = (f"{model_id:<24} {feature:<26} {stat.get('test', '-'):<14} {value_text} {p_text}  "
            f"{verdict_word(stat.get('severity'), has_data):<8} {alert:<8} {int(stat.get('n_current', 0)):>7}  {when}")
    return (not firing, _RANK.get(stat.get("severity"), 2), -ratio, feature), line
