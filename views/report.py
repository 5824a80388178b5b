"""``driftline report``: one model over a time range as ONE self-contained HTML file (BokehJS, the page's
script and style and the data inlined: it opens with no network at all), or the same content as JSON."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from driftline.streams import State
from driftline.views.load import load_model_view
from driftline.views.model_view import ModelView
from driftline.views.page import TIMELINE, render_page, utc, view_payload


def report_html(view: ModelView, *, generated_at: float) -> str:
    payload = view_payload(view, plots_for=[*(f.key for f in view.features), TIMELINE])
    span = f"windows {utc(view.first_start)} → {utc(view.last_end)}" if view.windows else "no closed windows"
    return render_page(
        mode="report", title=f"driftline report: {view.model_id}", subtitle=f"report · {view.model_id} · {span}",
        config={"mode": "report", "model": view.model_id, "data": payload}, inline=True,
        status=f"generated {utc(generated_at)}",
        footer=f"driftline report of model {view.model_id}, {span} (event time), generated {utc(generated_at)}. "
               "Self-contained: this file loads nothing from the network.",
    )


def report_json(view: ModelView, *, generated_at: float) -> dict[str, Any]:
    return {"generated_at": generated_at, **view_payload(view, columns_for=[f.key for f in view.features])}


async def write_report(state: State, model_id: str, out: Path, *, since: float | None = None,
                       until: float | None = None, fmt: str = "html") -> Path:
    """Write the report of ``model_id`` (windows ending in [since, until]) to ``out``; returns ``out``."""
    known = await state.windows.model_ids()
    if model_id not in known:
        raise LookupError(f"unknown model {model_id!r}: no reference in Redis (known: "
                          f"{', '.join(known) or 'none'})")
    view = await load_model_view(state, model_id, since=since, until=until)
    now = time.time()
    if fmt == "json":
        text = json.dumps(report_json(view, generated_at=now), indent=1, allow_nan=False)
    else:
        text = report_html(view, generated_at=now)
    await asyncio.to_thread(_write, out, text)
    return out


def _write(out: Path, text: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
