"""The HTML page shared by the dashboard and the report, and the data it is drawn from.

One template and one script (``static/driftline.js``): the dashboard links them and fetches its data
from ``/api``; a report inlines them, BokehJS and the data into one file that needs no network.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from bokeh.embed import json_item
from jinja2 import Environment, FileSystemLoader, select_autoescape

from driftline.views.figures import (
    alert_timeline,
    bokeh_js,
    feature_columns,
    feature_json_items,
    sparkline_svg,
    timeline_columns,
)
from driftline.views.model_view import ModelView

HERE = Path(__file__).parent
STATIC = HERE / "static"
TIMELINE = "__timeline__"


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (``</`` cannot end it early).

    >>> script_json({"a": "</script>"})
    '{"a": "<\\\\/script>"}'
    """
    return json.dumps(value, allow_nan=False).replace("</", "<\\/")


def view_payload(view: ModelView, *, plots_for: list[str] | None = None,
                 columns_for: list[str] | None = None) -> dict[str, Any]:
    """What the page draws a model from: the view, each feature's sparkline, and (as asked) the plots of
    some features as Bokeh items (``plots_for``) or just their data (``columns_for``, for a refresh)."""
    payload: dict[str, Any] = {
        "view": _finite(view.to_dict()),
        "sparklines": {f.key: sparkline_svg(f.trend, f.threshold) for f in view.features},
    }
    if plots_for is not None:
        wanted = [f for f in view.features if f.key in set(plots_for)]
        payload["plots"] = {f.key: feature_json_items(f) for f in wanted}
        if TIMELINE in plots_for:
            payload["plots"][TIMELINE] = json_item(alert_timeline(view))
    if columns_for is not None:
        columns: dict[str, Any] = dict(timeline_columns(view))
        for f in view.features:
            if f.key in set(columns_for):
                columns.update(feature_columns(f))
        payload["columns"] = _finite(columns)
    return payload


def _finite(value: Any) -> Any:
    """NaN and infinities as null: the page's JSON has none."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def render_page(*, mode: str, title: str, subtitle: str, config: dict[str, Any], inline: bool,
                footer: str = "", status: str = "") -> str:
    template = _environment().get_template("page.html")
    extra: dict[str, str] = {}
    if inline:
        extra = {"css": (STATIC / "driftline.css").read_text(encoding="utf-8"), "bokeh_js": bokeh_js(),
                 "page_js": (STATIC / "driftline.js").read_text(encoding="utf-8")}
    return template.render(mode=mode, title=title, subtitle=subtitle, config_json=script_json(config),
                           inline=inline, footer=footer, status=status, **extra)


def utc(ts: float | None) -> str:
    """A time for people to read.

    >>> utc(0)
    '1970-01-01 00:00 UTC'
    """
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC") if ts is not None else "–"
