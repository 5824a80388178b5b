"""The pictures of one feature, drawn with Bokeh (its JavaScript ships inside the Python package:
:func:`bokeh_js` reads it from there, never from a CDN).

Every data source is named ``<plot>:<feature key>`` (``histogram:amount``, ``statistic:amount``,
``samples:amount``), so a browser test can find it with ``Bokeh.documents[i].get_model_by_name``.
"""

from __future__ import annotations

import itertools
from functools import cache
from pathlib import Path
from typing import Any

from bokeh.embed import json_item
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, DataRange1d, HoverTool, Range1d
from bokeh.models.annotations import Title
from bokeh.plotting import figure
from bokeh.transform import dodge
from bokeh.util.paths import bokehjs_path

from driftline.config import PERFORMANCE_FEATURE, PREDICTION_FEATURE
from driftline.views.model_view import FeatureView, ModelView

REFERENCE_COLOUR = "#94a3b8"
CURRENT_COLOUR = "#2563eb"
DRIFT_COLOUR = "#dc2626"
WARNING_COLOUR = "#d97706"
OK_COLOUR = "#16a34a"
SEVERITY_COLOUR = {"critical": DRIFT_COLOUR, "warning": WARNING_COLOUR}
_FONT = "11px"


@cache
def bokeh_js() -> str:
    """BokehJS (core only: the plots here need no widgets, tables or WebGL), from the installed package."""
    return (bokehjs_path() / "js" / "bokeh.min.js").read_text(encoding="utf-8")


def bokeh_js_path() -> Path:
    return bokehjs_path() / "js" / "bokeh.min.js"


def _base(title: str, **kwargs: Any) -> Any:
    fig = figure(title=Title(text=title, text_font_size="12px"), height=kwargs.pop("height", 240),
                 sizing_mode="stretch_width", toolbar_location=None, tools="", **kwargs)
    fig.xaxis.major_label_text_font_size = _FONT
    fig.yaxis.major_label_text_font_size = _FONT
    fig.outline_line_color = None
    fig.grid.grid_line_alpha = 0.4
    return fig


_METRIC_LABELS = {"error_rate": "error rate", "mae": "mean absolute error"}


def histogram_columns(view: FeatureView) -> dict[str, list[Any]]:
    return {"bin": list(view.bins), "reference": list(view.reference), "current": list(view.current[: len(view.bins)])}


def histogram(view: FeatureView) -> Any:
    """Reference vs current proportions on the reference's bins ("other" last for a categorical feature)."""
    source = ColumnDataSource(histogram_columns(view), name=f"histogram:{view.key}")
    if view.kind == "performance":
        what = f"{_METRIC_LABELS.get(view.test or '', 'performance')}: reference vs the last window"
    else:
        what = f"distribution: reference (n={view.n_reference:,}) vs last window (n={view.n_current:,})"
    fig = _base(what, x_range=view.bins or ["-"], y_range=DataRange1d(start=0, range_padding=0.15))
    fig.vbar(x=dodge("bin", -0.19, range=fig.x_range), top="reference", width=0.36, source=source,
             color=REFERENCE_COLOUR, legend_label="reference")
    fig.vbar(x=dodge("bin", 0.19, range=fig.x_range), top="current", width=0.36, source=source,
             color=CURRENT_COLOUR, legend_label="current")
    fig.add_tools(HoverTool(tooltips=[("bin", "@bin"), ("reference", "@reference{0.0%}"),
                                      ("current", "@current{0.0%}")]))
    fig.yaxis.axis_label = "share"
    fig.xaxis.major_label_orientation = 0.6 if len(view.bins) > 6 else 0.0
    fig.legend.orientation = "horizontal"
    fig.legend.label_text_font_size = _FONT
    fig.legend.padding = 2
    fig.legend.border_line_alpha = 0
    fig.add_layout(fig.legend[0], "above")
    return fig


def statistic_columns(view: FeatureView) -> dict[str, list[Any]]:
    s = view.series
    return {"end": [e * 1000.0 for e in s.end], "statistic": [_nan(v) for v in s.statistic],
            "threshold": [_nan(v) for v in s.threshold], "n": list(s.n),
            "colour": [SEVERITY_COLOUR.get(sev or "", CURRENT_COLOUR) for sev in s.severity]}


def alert_columns(view: FeatureView) -> dict[str, list[Any]]:
    marks = view.alerts
    return {"end": [m.end * 1000.0 for m in marks], "y": [m.y for m in marks],
            "statistic": [m.statistic for m in marks],
            "state": [m.state for m in marks], "detector": [m.detector for m in marks],
            "marker": ["triangle" if m.state == "firing" else "inverted_triangle" for m in marks],
            "colour": [SEVERITY_COLOUR.get(m.severity, DRIFT_COLOUR) if m.state == "firing" else OK_COLOUR
                       for m in marks]}


def statistic_over_time(view: FeatureView) -> Any:
    """The statistic per closed window, its threshold, and alert markers (▲ fired, ▼ resolved)."""
    source = ColumnDataSource(statistic_columns(view), name=f"statistic:{view.key}")
    label = _METRIC_LABELS.get(view.test or "", "statistic") if view.kind == "performance" else (
        view.test or "statistic")
    edge = "the reference's band dashed" if view.kind == "performance" else "threshold dashed"
    fig = _base(f"{label} per window ({edge}, ▲ alert fired, ▼ resolved)", x_axis_type="datetime",
                y_range=DataRange1d(start=0, range_padding=0.1))
    fig.line("end", "statistic", source=source, color=CURRENT_COLOUR, line_width=2)
    fig.scatter("end", "statistic", source=source, color="colour", size=6)
    fig.line("end", "threshold", source=source, color=DRIFT_COLOUR, line_dash="dashed", line_width=1.5)
    marks = ColumnDataSource(alert_columns(view), name=f"alerts:{view.key}")
    fig.scatter("end", "y", source=marks, marker="marker", color="colour", size=13, line_color="white")
    fig.add_tools(HoverTool(tooltips=[("window end", "@end{%F %H:%M}"), (label, "@statistic{0.000}"),
                                      ("threshold", "@threshold{0.000}"), ("n", "@n")],
                            formatters={"@end": "datetime"}))
    fig.yaxis.axis_label = label
    return fig


def sample_columns(view: FeatureView) -> dict[str, list[Any]]:
    """Per window: its end, n, and (performance) the share of its predictions labelled so far."""
    s = view.series
    labelled = [_nan(c) for c in s.completeness] if len(s.completeness) == len(s.n) else [float("nan")] * len(s.n)
    return {"end": [e * 1000.0 for e in s.end], "n": list(s.n), "labelled": labelled}


def sample_sizes(view: FeatureView, x_range: Any | None = None) -> Any:
    """Events (or joined labels) per closed window."""
    ends = view.series.end
    width = (min(b - a for a, b in itertools.pairwise(ends)) * 1000.0 * 0.8) if len(ends) > 1 else 1.0
    source = ColumnDataSource(sample_columns(view), name=f"samples:{view.key}")
    extra = {"x_range": x_range} if x_range is not None else {}
    fig = _base("joined labels per window" if view.kind == "performance" else "events per window",
                x_axis_type="datetime", height=130, y_range=DataRange1d(start=0), **extra)
    fig.vbar(x="end", top="n", width=width, source=source, color=REFERENCE_COLOUR)
    tooltips = [("window end", "@end{%F %H:%M}"), ("n", "@n")]
    if view.kind == "performance":
        tooltips.append(("labelled", "@labelled{0.0%} of its predictions"))
    fig.add_tools(HoverTool(tooltips=tooltips, formatters={"@end": "datetime"}))
    return fig


def feature_figures(view: FeatureView) -> dict[str, Any]:
    """The feature view's two items: the histogram, and the statistic over time above the sample sizes
    (one layout, so the two share their time axis)."""
    over_time = statistic_over_time(view)
    return {"histogram": histogram(view),
            "over_time": column(over_time, sample_sizes(view, over_time.x_range), sizing_mode="stretch_width")}


def feature_json_items(view: FeatureView) -> dict[str, Any]:
    """The plots as Bokeh JSON items, for a page to embed."""
    return {name: json_item(fig) for name, fig in feature_figures(view).items()}


def feature_columns(view: FeatureView) -> dict[str, dict[str, list[Any]]]:
    """Every named data source of the feature's plots: what a refresh hands to the embedded plots.
    NaN (no statistic) travels as JSON null; the page turns it back into NaN."""
    columns = {f"histogram:{view.key}": histogram_columns(view), f"statistic:{view.key}": statistic_columns(view),
               f"alerts:{view.key}": alert_columns(view), f"samples:{view.key}": sample_columns(view)}
    return {name: {c: [None if isinstance(v, float) and v != v else v for v in values]
                   for c, values in cols.items()} for name, cols in columns.items()}


def timeline_columns(model: ModelView) -> dict[str, dict[str, list[Any]]]:
    alerts, triggers = model.alerts, model.triggers
    return {
        "timeline:alerts": {
            "end": [a["end"] * 1000.0 for a in alerts], "feature": [display_name(a["feature"]) for a in alerts],
            "detector": [a["detector"] for a in alerts], "state": [a["state"] for a in alerts],
            "statistic": [a["statistic"] for a in alerts],
            "marker": ["triangle" if a["state"] == "firing" else "inverted_triangle" for a in alerts],
            "colour": [SEVERITY_COLOUR.get(a["severity"], DRIFT_COLOUR) if a["state"] == "firing" else OK_COLOUR
                       for a in alerts],
        },
        "timeline:triggers": {
            "end": [t["end"] * 1000.0 for t in triggers], "feature": [RETRAIN_ROW for _ in triggers],
            "reason": [t["reason"] for t in triggers], "policy": [t["policy"] for t in triggers],
        },
    }


RETRAIN_ROW = "retrain trigger"


def display_name(key: str) -> str:
    """A feature key as people read it (the prediction is a score or, for a probability map, its top class).

    >>> display_name("__prediction__"), display_name("amount")
    ('prediction', 'amount')
    """
    return {PREDICTION_FEATURE: "prediction", PERFORMANCE_FEATURE: "performance (error rate)"}.get(key, key)


def alert_timeline(model: ModelView) -> Any:
    """Alerts (▲ fired, ▼ resolved) per feature over time, and the retrain triggers (◆) on their own row."""
    columns = timeline_columns(model)
    rows = [*sorted({display_name(a["feature"]) for a in model.alerts}), RETRAIN_ROW]
    span: dict[str, Any] = {}
    if model.first_start is not None and model.last_end is not None:
        pad = (model.last_end - model.first_start) * 0.02 * 1000.0
        span["x_range"] = Range1d(start=model.first_start * 1000.0 - pad, end=model.last_end * 1000.0 + pad)
    fig = _base("alerts (▲ fired, ▼ resolved) and retrain triggers (◆) over the windows shown",
                x_axis_type="datetime", y_range=rows, height=max(140, 34 * len(rows) + 70), **span)
    alerts = ColumnDataSource(columns["timeline:alerts"], name="timeline:alerts")
    triggers = ColumnDataSource(columns["timeline:triggers"], name="timeline:triggers")
    fig.scatter("end", "feature", source=alerts, marker="marker", color="colour", size=12, line_color="white")
    fig.scatter("end", "feature", source=triggers, marker="diamond", color="#7c3aed", size=15, line_color="white")
    fig.add_tools(HoverTool(tooltips=[("when", "@end{%F %H:%M}"), ("what", "@feature"), ("state", "@state"),
                                      ("detector", "@detector"), ("statistic", "@statistic{0.000}"),
                                      ("reason", "@reason")], formatters={"@end": "datetime"}))
    return fig


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value


def sparkline_svg(values: list[float | None], threshold: float | None, *, width: int = 110,
                  height: int = 24) -> str:
    """A row's small trend as inline SVG: the statistic's polyline and its threshold, nothing else.

    Too small to be a plot with axes, so not a Bokeh figure: thirty table rows of canvases would
    cost more than the table. ``values`` with no number give an empty string.

    >>> sparkline_svg([0.1, 0.3], 0.2).startswith('<svg')
    True
    >>> sparkline_svg([None], None)
    ''
    """
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if not points:
        return ""
    top = max([v for _, v in points] + ([threshold] if threshold else []))
    top = top if top > 0 else 1.0
    span = max(len(values) - 1, 1)

    def xy(i: float, v: float) -> str:
        return f"{2 + i / span * (width - 4):.1f},{height - 2 - v / top * (height - 4):.1f}"

    line = " ".join(xy(i, v) for i, v in points)
    rule = ""
    if threshold:
        y = height - 2 - threshold / top * (height - 4)
        rule = (f'<line x1="0" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="{DRIFT_COLOUR}" '
                f'stroke-dasharray="3,2" stroke-width="1"/>')
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="trend">{rule}<polyline fill="none" stroke="{CURRENT_COLOUR}" '
            f'stroke-width="1.5" points="{line}"/></svg>')
