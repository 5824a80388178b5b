"""The browser harness of tests/browser.py on pages of its own: a self-contained Bokeh page (inline resources)
renders offline from file:// without errors or requests, and each check fails on a page made to fail it.

Needs Debian's chromium and chromium-driver, no Kafka and no Redis."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from bokeh.embed import file_html
from bokeh.layouts import column
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure
from bokeh.resources import INLINE
from selenium.webdriver.common.selenium_manager import SeleniumManager

from ..browser import (
    BOKEH_IDLE,
    bokeh_painted_pixels,
    bokeh_source_rows,
    chromium,
    console_errors,
    external_requests,
    network_requests,
    save_screenshot,
    wait_until,
)

pytestmark = pytest.mark.integration

BARS = [3, 5, 2, 4, 6]
EXTERNAL_SCRIPT = "https://cdn.example.com/x.js"


def bokeh_page(path: Path, *, bars: list[int] = BARS, head: str = "") -> str:
    """A page of one bar chart (glyph renderer "bar_glyph", data source "bar_data", plot "bars") and one line
    chart (plot "lines"), BokehJS inline; ``head`` goes first into the page's <head>. Returns its file:// URL."""
    bar_data = ColumnDataSource({"x": list(range(1, len(bars) + 1)), "top": bars}, name="bar_data")
    bar_plot = figure(name="bars", title="bars", width=600, height=300, toolbar_location=None)
    bar_plot.vbar(x="x", top="top", width=0.8, source=bar_data, name="bar_glyph")
    line_data = ColumnDataSource({"x": [1, 2, 3, 4, 5, 6], "y": [1.0, 2.5, 2.0, 3.5, 3.0, 4.5]}, name="line_data")
    line_plot = figure(name="lines", title="lines", width=600, height=300, toolbar_location=None)
    line_plot.line(x="x", y="y", source=line_data, line_width=3, name="line_glyph")
    html = file_html(column(bar_plot, line_plot), INLINE, title="browser smoke")
    assert html.count("<head>") == 1
    path.write_text(html.replace("<head>", "<head>\n" + head, 1), encoding="utf-8")
    return path.resolve().as_uri()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is no PNG"
    return struct.unpack(">II", data[16:24])


def test_bokeh_page_renders_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_selenium_manager(*_: object, **__: object) -> None:
        raise AssertionError("Selenium Manager ran: it may download browsers and drivers")

    monkeypatch.setattr(SeleniumManager, "binary_paths", no_selenium_manager)
    url = bokeh_page(tmp_path / "page.html")
    with chromium(offline=True) as driver:
        driver.get(url)
        wait_until(driver, BOKEH_IDLE, 20)
        assert bokeh_source_rows(driver, "bar_data") == len(BARS)
        assert bokeh_source_rows(driver, "bar_glyph") == len(BARS)
        assert bokeh_source_rows(driver, "line_data") == 6
        bars, lines = bokeh_painted_pixels(driver, "bar_glyph"), bokeh_painted_pixels(driver, "lines")
        assert bokeh_painted_pixels(driver, "bars") == bokeh_painted_pixels(driver, "bar_data") == bars
        assert bars > 20_000, bars
        assert lines > 2_000, lines
        shot = save_screenshot(driver, tmp_path / "shots" / "page.png")
        assert png_size(shot) == (1400, 1000)
        assert console_errors(driver) == []
        assert external_requests(driver) == []
        assert network_requests(driver) == [url]  # everything else is inline


def test_checks_fail_on_a_page_made_to_fail_them(tmp_path: Path) -> None:
    empty = bokeh_page(tmp_path / "empty.html", bars=[])
    full = bokeh_page(tmp_path / "full.html")
    with chromium(offline=True) as driver:
        driver.get(empty)
        wait_until(driver, BOKEH_IDLE, 20)
        assert bokeh_source_rows(driver, "bar_data") == 0
        axes_only = bokeh_painted_pixels(driver, "bars")  # axes, ticks, grid and title are painted all the same
        driver.get(full)
        wait_until(driver, BOKEH_IDLE, 20)
        assert bokeh_painted_pixels(driver, "bars") - axes_only > 20_000
        with pytest.raises(AssertionError, match=r"not true after 0.2 s: Bokeh.documents.length > 1"):
            wait_until(driver, "Bokeh.documents.length > 1", 0.2)
        assert console_errors(driver) == []


def test_external_request_and_console_error_show(tmp_path: Path) -> None:
    url = bokeh_page(
        tmp_path / "page.html",
        head=f'<script src="{EXTERNAL_SCRIPT}"></script>\n<script>console.error("boom")</script>',
    )
    with chromium(offline=True) as driver:
        driver.get(url)
        wait_until(driver, BOKEH_IDLE, 20)  # the page works without the script
        assert external_requests(driver) == [EXTERNAL_SCRIPT]
        assert network_requests(driver) == [url, EXTERNAL_SCRIPT]
        errors = console_errors(driver)
        assert len(errors) == 2, errors
        assert errors[0].startswith(EXTERNAL_SCRIPT) and "net::ERR_INTERNET_DISCONNECTED" in errors[0], errors
        assert '"boom"' in errors[1], errors
        assert console_errors(driver) == errors  # the logs are kept, not handed out once


def test_missing_browser_fails_rather_than_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    from .. import browser

    monkeypatch.setattr(browser, "CHROMEDRIVER", Path("/nonexistent/chromedriver"))
    with pytest.raises(pytest.fail.Exception, match="/nonexistent/chromedriver"), chromium():
        pass
