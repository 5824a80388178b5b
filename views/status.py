"""``driftline status``: the dashboard's feature table in the terminal, worst feature first per model.

Colours (when the output is a terminal and ``NO_COLOR`` is unset) always come with words — ``DRIFT``,
``warning``, ``ok``; ``firing``, ``resolved`` — so the table reads the same without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftline.config import PERFORMANCE_FEATURE
from driftline.streams import State
from driftline.views.load import load_model_view
from driftline.views.model_view import TREND_POINTS, FeatureView, ModelView, lag_quantile
from driftline.views.page import utc

_BARS = "▁▂▃▄▅▆▇█"
_COLOURS = {"DRIFT": "31;1", "warning": "33", "ok": "32", "firing": "31;1", "resolved": "32"}
HEADER = (f"{'MODEL':<24} {'FEATURE':<26} {'TEST':<14} {'STATISTIC':>9} {'P':>8}  {'STATE':<8} {'ALERT':<8} "
          f"{'N':>7}  {'TREND':<12}  LAST WINDOW END")


def text_sparkline(values: list[float | None], width: int = 12) -> str:
    """The statistic's last values as block characters (the highest is a full block; gaps are spaces).

    >>> text_sparkline([0.0, 0.5, 1.0, None])
    '▁▅█ '
    """
    recent = values[-width:]
    top = max((v for v in recent if v is not None), default=0.0) or 1.0
    return "".join(" " if v is None else _BARS[min(len(_BARS) - 1, round(v / top * (len(_BARS) - 1)))]
                   for v in recent)


def _paint(word: str, colour: bool, width: int) -> str:
    padded = f"{word:<{width}}"
    code = _COLOURS.get(word)
    return f"\033[{code}m{padded}\033[0m" if colour and code else padded


def feature_line(model_id: str, f: FeatureView, *, colour: bool = False) -> str:
    value = f"{f.statistic:9.3f}" if f.statistic is not None else f"{'-':>9}"
    p = f"{f.p_value:8.1e}" if f.p_value is not None else f"{'-':>8}"
    alert = f.alert if f.alert != "ok" else "-"
    line = (f"{model_id:<24} {f.key:<26} {f.test or '-':<14} {value} {p}  {_paint(f.verdict, colour, 8)} "
            f"{_paint(alert, colour, 8)} {f.n_current:>7}  {text_sparkline(f.trend):<12}  {utc(f.window_end)}")
    return line


def label_health_line(view: ModelView) -> str | None:
    """A model's labels in one line: joined, waiting for their prediction (overdue ones apart), unmatched after
    their wait, dropped, duplicates, the label lag's median and 95th percentile, and how much of the newest
    performance window is labelled. None for a model without labels.

    >>> from driftline.views.model_view import ModelView
    >>> v = ModelView("fraud", None, None, None, 0, None, None, [], [], [],
    ...               {"joined": 990, "pending": 10, "overdue": 2, "unmatched": 1}, {"64": 900, "4096": 90})
    >>> print(label_health_line(v))
    fraud                    labels: 990 joined, 10 waiting for their prediction (2 overdue), 1 unmatched; \
lag median ≤ 64 s, p95 ≤ 68 min
    """
    n = view.labels
    if not (n.get("joined") or n.get("pending") or n.get("unmatched")):
        return None
    parts = [f"{n.get('joined', 0)} joined", f"{n.get('pending', 0)} waiting for their prediction"
             + (f" ({n['overdue']} overdue)" if n.get("overdue") else ""), f"{n.get('unmatched', 0)} unmatched"]
    parts += [f"{n[k]} {k}" for k in ("dropped", "duplicates") if n.get(k)]
    line = f"{view.model_id:<24} labels: " + ", ".join(parts)
    median, p95 = lag_quantile(view.label_lag, 0.5), lag_quantile(view.label_lag, 0.95)
    if median is not None:
        line += f"; lag median {median}, p95 {p95}"
    shown = {"precision": "precision", "recall": "recall", "auc": "ROC AUC", "macro_f1": "macro F1", "rmse": "RMSE"}
    newest = [f"{label} {view.performance_metrics[k]:.3f}" for k, label in shown.items()
              if k in view.performance_metrics]
    if newest:
        line += "; newest window " + ", ".join(newest)
    performance = next((f for f in view.features if f.key == PERFORMANCE_FEATURE), None)
    labelled = performance.series.completeness[-1] if performance and performance.series.completeness else None
    if labelled is not None:
        line += f" ({labelled:.0%} labelled)" if newest else f"; newest window {labelled:.0%} labelled"
    return line


def budget_line(view: ModelView) -> str | None:
    """What a model expects of false alarms (its share of the fleet's), as its newest window recorded.

    >>> from driftline.views.model_view import ModelView
    >>> v = ModelView("fraud", None, None, None, 0, None, None, [], [], [], {}, budget={"budget_per_day": 2.0,
    ...     "ert_windows": 1.7e5, "expected_per_day": 0.25, "share": 0.125, "fleet_expected_per_day": 2.0,
    ...     "tests": 30, "windows_per_day": 1440.0, "own_ert": False})
    >>> print(budget_line(v))
    fraud                    false alarms: 0.25 a day expected, 12% of the fleet's 2 \
(budget 2 a day); 30 tests a window at ERT 1.7e+05 windows
    """
    b = view.budget
    if b.get("expected_per_day") is None:
        return None
    budget = _budget_words(b)
    ert = "its spec's ERT" if b.get("own_ert") else "ERT"
    line = (f"{view.model_id:<24} false alarms: {b['expected_per_day']:.3g} a day expected, {b['share']:.0%} of the "
            f"fleet's {b['fleet_expected_per_day']:.3g} ({budget})")
    return line + (f"; {b['tests']} tests a window at {ert} {b['ert_windows']:.2g} windows" if b.get("tests") else "")


def fleet_line(views: list[ModelView]) -> str | None:
    """The fleet's expected false alarms a day (from the newest record of any model)."""
    recorded = [v.budget for v in views if v.budget.get("fleet_expected_per_day") is not None]
    if not recorded:
        return None
    b = max(recorded, key=lambda r: r.get("models", 0))
    budget = _budget_words(b)
    over = "; models with their own ERT spend it all" if b.get("over_budget") else ""
    return (f"fleet: {b['fleet_expected_per_day']:.3g} false alarms a day expected across {b.get('models', '?')} "
            f"model(s) ({budget}{over})")


def _budget_words(entry: Mapping[str, Any]) -> str:
    return f"budget {entry['budget_per_day']:.3g} a day" if entry.get("budget_per_day") else "no budget set"


def status_table(views: list[ModelView], *, colour: bool = False) -> list[str]:
    if not views:
        return ["no models yet: build a reference with `driftline reference build`"]
    lines = [HEADER]
    for view in views:
        lines += [feature_line(view.model_id, f, colour=colour) for f in view.features]
        lines += [line for line in (label_health_line(view), budget_line(view)) if line is not None]
    fleet = fleet_line(views)
    return lines + ([fleet] if fleet else [])


async def status_lines(state: State, *, colour: bool = False) -> list[str]:
    """Every model's table (its newest windows), worst feature first."""
    views = [await load_model_view(state, m, last=TREND_POINTS) for m in await state.windows.model_ids()]
    return status_table(views, colour=colour)
