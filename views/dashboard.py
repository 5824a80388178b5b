"""``driftline dashboard``: the live page, served by aiohttp (already in every install: faust's web server
is aiohttp) from Redis alone, so it runs beside the workers, never inside their event loop.

Routes: ``/`` the page; ``/static/*`` its script, style and BokehJS (from the bokeh package);
``/api/models`` every model with its drifting and firing counts; ``/api/models/<id>`` the model's view
(``?features=a,b``: also the plot data of those features, for a refresh in place);
``/api/models/<id>/plots?feature=<key>`` a feature's plots as Bokeh items (``__timeline__``: the alert
timeline); ``/healthz``. See docs/dashboard.md.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from driftline.streams import State
from driftline.views.figures import bokeh_js_path
from driftline.views.load import DASHBOARD_WINDOWS, load_model_view
from driftline.views.page import STATIC, TIMELINE, render_page, view_payload

log = logging.getLogger(__name__)
STATE = web.AppKey("state", State)
_FILES = {"driftline.js": STATIC / "driftline.js", "driftline.css": STATIC / "driftline.css"}


def dashboard_app(state: State, *, refresh_seconds: float = 5.0) -> web.Application:
    app = web.Application()
    app[STATE] = state
    page = render_page(mode="live", title="driftline", subtitle="live dashboard",
                       config={"mode": "live", "model": None, "refresh_seconds": refresh_seconds}, inline=False,
                       status="loading…", footer="driftline dashboard · data from Redis, refreshed in place")

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/api/models", _models)
    app.router.add_get("/api/models/{model_id}", _model)
    app.router.add_get("/api/models/{model_id}/plots", _plots)
    app.router.add_get("/healthz", _health)
    return app


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = bokeh_js_path() if name == "bokeh.min.js" else _FILES.get(name)
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "max-age=3600"})


async def _health(request: web.Request) -> web.Response:
    await request.app[STATE].ping()
    return web.Response(text="ok")


async def _models(request: web.Request) -> web.Response:
    """Every model, with how many features drift in their latest window and how many alerts fire."""
    state = request.app[STATE]
    overview = await state.overview(await state.windows.model_ids())
    return _json([{"model_id": model_id, "drifting": drifting, "firing": firing}
                  for model_id, (drifting, firing) in overview.items()])


async def _model(request: web.Request) -> web.Response:
    model_id = await _known(request)
    features = [f for f in request.query.get("features", "").split(",") if f]
    view = await load_model_view(request.app[STATE], model_id, last=DASHBOARD_WINDOWS)
    return _json(view_payload(view, columns_for=features))


async def _plots(request: web.Request) -> web.Response:
    model_id = await _known(request)
    feature = request.query.get("feature", "")
    view = await load_model_view(request.app[STATE], model_id, last=DASHBOARD_WINDOWS)
    if feature == TIMELINE:
        return _json({"timeline": view_payload(view, plots_for=[TIMELINE])["plots"][TIMELINE]})
    plots = view_payload(view, plots_for=[feature])["plots"]
    if feature not in plots:
        raise web.HTTPNotFound(text=f"model {model_id!r} has no feature {feature!r}")
    return _json(plots[feature])


async def _known(request: web.Request) -> str:
    model_id = request.match_info["model_id"]
    if model_id not in await request.app[STATE].windows.model_ids():
        raise web.HTTPNotFound(text=f"unknown model {model_id!r}")
    return model_id


def _json(value: Any) -> web.Response:
    return web.Response(text=json.dumps(value, allow_nan=False), content_type="application/json")


async def serve(state: State, *, host: str, port: int, refresh_seconds: float = 5.0) -> web.AppRunner:
    """Start serving; returns the runner (``await runner.cleanup()`` stops it)."""
    runner = web.AppRunner(dashboard_app(state, refresh_seconds=refresh_seconds), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
