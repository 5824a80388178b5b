"""``driftline status``: each model's features with their latest window statistic, worst first."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

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
        firing = {f: s.firing for f, s in (await store.alert_states(model_id)).items()}
        features = sorted(set(reference.features) | set(latest)) if reference else sorted(latest)
        rows = [_row(model_id, name, latest.get(name, {}), firing.get(name)) for name in features]
        lines += [line for _, line in sorted(rows)]
    return lines


def _row(model_id: str, feature: str, stat: Mapping[str, Any], firing: bool | None) -> tuple[tuple[Any, ...], str]:
    value, threshold, p = stat.get("statistic"), stat.get("threshold"), stat.get("p_value")
    end = stat.get("window_end")
    when = datetime.fromtimestamp(end, tz=UTC).strftime("%Y-%m-%d %H:%M UTC") if end else "-"
    has_data = value is not None
    alert = "-" if firing is None else ("firing" if firing else "ok")
    ratio = value / threshold if has_data and threshold else -1.0
    value_text = f"{value:9.3f}" if has_data else f"{'-':>9}"
    p_text = f"{p:8.1e}" if p is not None else f"{'-':>8}"
    line = (f"{model_id:<24} {feature:<26} {stat.get('test', '-'):<14} {value_text} {p_text}  "
            f"{verdict_word(stat.get('severity'), has_data):<8} {alert:<8} {int(stat.get('n_current', 0)):>7}  {when}")
    return (not firing, _RANK.get(stat.get("severity"), 2), -ratio, feature), line
