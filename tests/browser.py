"""Helpers of the tests that drive a real headless browser: Debian's Chromium through its chromedriver.

Both come from Debian packages (``chromium``, ``chromium-driver``; .ci/setup installs them) at fixed paths, so
Selenium Manager never runs and nothing downloads a browser or a driver. A test that needs them fails (it does
not skip) when they are missing: CI must have them.

Tests import these with a relative import, as the rest of the suite does under ``--import-mode=importlib``::

    from ..browser import chromium, console_errors, external_requests

Chromium hands out its logs once (``get_log`` drains them); the helpers here keep what they have read per driver,
so `console_errors`, `network_requests` and `external_requests` each return everything since the browser started,
however often they are called.
"""

from __future__ import annotations

import json
import os
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

#: Schemes that leave the machine; ``file:``, ``data:``, ``blob:`` and ``about:`` stay in it.
EXTERNAL_SCHEMES = ("http:", "https:", "ws:", "wss:")

_logs: weakref.WeakKeyDictionary[webdriver.Chrome, dict[str, list[dict[str, Any]]]] = weakref.WeakKeyDictionary()


@contextmanager
def chromium(*, offline: bool = False, width: int = 1400, height: int = 1000) -> Iterator[webdriver.Chrome]:
    """A headless Chromium of the Debian packages, quit on exit, whose pages get ``width`` x ``height`` CSS pixels
    (and so do its screenshots: one device pixel to each).

    With ``offline`` every request of the page fails as if the machine had no network (DevTools network
    emulation, switched on before the first navigation); the requests still show in `network_requests`.
    """
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not (p.is_file() and os.access(p, os.X_OK))]
    if missing:
        pytest.fail(
            f"browser tests need {' and '.join(missing)}: install the Debian packages chromium and "
            "chromium-driver (.ci/setup does)",
            pytrace=False,
        )
    # Selenium Manager is skipped anyway when the Service names a driver; should it run, it must not download.
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        _logs[driver] = {"browser": [], "performance": []}
        # New headless Chromium takes --window-size for the window and draws the page in less (by the height of a
        # toolbar it does not show): grow the window until the page gets width x height.
        outer_width, outer_height, inner_width, inner_height = driver.execute_script(
            "return [outerWidth, outerHeight, innerWidth, innerHeight]"
        )
        driver.set_window_size(width + outer_width - inner_width, height + outer_height - inner_height)
        viewport = driver.execute_script("return [innerWidth, innerHeight]")
        if viewport != [width, height]:
            raise AssertionError(f"Chromium's viewport is {viewport[0]}x{viewport[1]}, not {width}x{height}")
        if offline:
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd(
                "Network.emulateNetworkConditions",
                {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
            )
        yield driver
    finally:
        driver.quit()


def _log(driver: webdriver.Chrome, kind: str) -> list[dict[str, Any]]:
    """Every entry of the browser's log ``kind`` so far (the browser hands each out only once)."""
    kept = _logs.setdefault(driver, {"browser": [], "performance": []})
    kept[kind].extend(driver.get_log(kind))
    return kept[kind]


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """The messages of the SEVERE entries of the page's console: errors and failed loads."""
    return [entry["message"] for entry in _log(driver, "browser") if entry["level"] == "SEVERE"]


def network_requests(driver: webdriver.Chrome) -> list[str]:
    """The URL of every request the pages have sent (``Network.requestWillBeSent``), in order."""
    urls = []
    for entry in _log(driver, "performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def external_requests(driver: webdriver.Chrome) -> list[str]:
    """The requests that would leave the machine: http, https, ws and wss."""
    return [url for url in network_requests(driver) if url.lower().startswith(EXTERNAL_SCHEMES)]


def wait_until(driver: webdriver.Chrome, js_predicate: str, seconds: float) -> Any:
    """The first truthy value of the JavaScript expression ``js_predicate``, polled for ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = driver.execute_script("return " + js_predicate)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {seconds:g} s: {js_predicate}")
        time.sleep(0.05)


def save_screenshot(driver: webdriver.Chrome, path: str | Path) -> Path:
    """A PNG of the whole window (the page's viewport: headless Chromium shows nothing else) at ``path``; creates
    its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not driver.save_screenshot(str(path)):
        raise AssertionError(f"screenshot not written: {path}")
    return path


# The model named arguments[0], in whichever document of the page holds it; throws unless exactly one does.
_BOKEH_MODEL_JS = """
const name = arguments[0];
const found = Bokeh.documents.map((doc) => doc.get_model_by_name(name)).filter((m) => m != null);
if (found.length !== 1) throw new Error(`${found.length} Bokeh models named ${JSON.stringify(name)}`);
const model = found[0];
"""

_BOKEH_ROWS_JS = (
    _BOKEH_MODEL_JS
    + """
const source = model.data_source ?? model;  // a glyph renderer, or the data source itself
if (typeof source.get_length !== "function") throw new Error(`${name} is ${model}, not a data source`);
return source.get_length() ?? 0;
"""
)

# The plot views (Bokeh.index holds every view of the page) that show the model: a plot, one of its renderers, or
# the data source of one. Their canvas elements in the page, in the shadow DOM of the plot (the canvas layers
# `primary`, where glyphs, axes and grids go, and `overlays` on top), are drawn as they show, one on the other, into a
# canvas of our own, which is read back; a pixel is painted unless it is transparent or pure white. (Reading the
# page's canvases directly works as well, but makes Chromium warn in the console that they should have been created
# with willReadFrequently.)
_BOKEH_PAINTED_JS = (
    _BOKEH_MODEL_JS
    + """
const shows = (plot) => plot === model
  || (plot.renderers ?? []).some((r) => r === model || r.data_source === model || r.glyph === model);
const views = [...Bokeh.index.all_views()].filter((v) => v.canvas_view != null && shows(v.model));
if (views.length === 0) throw new Error(`no plot on the page shows ${name}`);
let painted = 0;
for (const view of views) {
  const canvases = [view.canvas_view.primary.canvas, view.canvas_view.overlays.canvas];
  if (!canvases[0].isConnected) continue;  // built, never shown
  const width = Math.min(...canvases.map((c) => c.width));
  const height = Math.min(...canvases.map((c) => c.height));
  if (width === 0 || height === 0) continue;
  const copy = document.createElement("canvas");
  copy.width = width;
  copy.height = height;
  const ctx = copy.getContext("2d", {willReadFrequently: true});
  for (const canvas of canvases) ctx.drawImage(canvas, 0, 0);
  const d = ctx.getImageData(0, 0, width, height).data;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 3] !== 0 && (d[i] !== 255 || d[i + 1] !== 255 || d[i + 2] !== 255)) painted++;
  }
}
return painted;
"""
)

#: True once BokehJS has put a document on the page and rendered all of it.
BOKEH_IDLE = "window.Bokeh != null && Bokeh.documents.length > 0 && Bokeh.documents.every((d) => d.is_idle)"


def bokeh_source_rows(driver: webdriver.Chrome, name: str) -> int:
    """The rows of the data source named ``name``, or of the data source of the glyph renderer named so."""
    return int(driver.execute_script(_BOKEH_ROWS_JS, name))


def bokeh_painted_pixels(driver: webdriver.Chrome, name: str) -> int:
    """The painted pixels of the canvas of the plot named ``name``, or of the plot showing the renderer or data
    source named so (summed over the plots when several show it). Axes, ticks and grid lines count too; an empty
    plot still paints those."""
    return int(driver.execute_script(_BOKEH_PAINTED_JS, name))
