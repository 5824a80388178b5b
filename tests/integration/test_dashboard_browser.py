"""The demo's drift seen in a real browser (Debian's headless Chromium): the live dashboard while the demo
runs, then the report it wrote, opened with networking off.

The screenshots in docs/img/ come from here: ``make screenshots``.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue

import pytest

from driftline.config import PERFORMANCE_FEATURE
from driftline.config.settings import KafkaSettings, load_settings
from driftline.streams.cli.demo import CATEGORY_DRIFT, EXPECTED
from driftline.streams.cli.demo import DRIFTED as DEMO_DRIFT
from driftline.streams.testing.simulate import FraudSimulator

from ..browser import (
    BOKEH_IDLE,
    bokeh_source_rows,
    chromium,
    console_errors,
    external_requests,
    save_screenshot,
    wait_until,
)
from ..support.kafka import produce
from ..support.processes import sigint_as_in_a_terminal

pytestmark = pytest.mark.integration

WINDOWS, DRIFT_AT = 14, 6
DRIFTED = set(EXPECTED)  # amount, merchant_risk_score, channel, and the prediction's class mix and probabilities
SIM = FraudSimulator(model_id="fraud-detector", probabilities=True)  # the demo's model
CURRENT_BLUE = (0x25, 0x63, 0xEB)  # views/figures.py CURRENT_COLOUR: only data (bars, lines) is drawn in it
READY = "document.body.dataset.ready === 'true'"


@dataclass
class Demo:
    url: str
    report: Path
    output: list[str]

    @property
    def kafka_bootstrap(self) -> str:
        """The demo's own Kafka, from its "local stack up in ...: Kafka <host:port>, Redis ..." line."""
        match = next(m for line in self.output if (m := re.search(r"Kafka (\S+), Redis", line)))
        return match.group(1)


async def produce_more(demo: Demo, windows: range) -> None:
    """More drifting windows of the demo's model, into the demo's own Kafka, for its worker to take."""
    settings = load_settings(kafka=KafkaSettings(bootstrap=demo.kafka_bootstrap))
    await produce(settings, (event for window in windows
                             for event in SIM.events(window=window, n=500, shift=DEMO_DRIFT,
                                                     category_shift=CATEGORY_DRIFT)))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``driftline demo`` with the drift lasting to the end, holding its dashboard up after the report."""
    report = tmp_path_factory.mktemp("demo") / "report.html"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}  # its own stack, as a user runs it
    process = subprocess.Popen(
        [sys.executable, "-m", "driftline.streams.cli.main", "demo", "--windows", str(WINDOWS), "--drift-at",
         str(DRIFT_AT), "--drift-end", str(WINDOWS), "--dashboard-port", "0", "--hold-seconds", "600",
         "--report", str(report)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, preexec_fn=sigint_as_in_a_terminal,
    )
    lines: Queue[str] = Queue()
    assert process.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    output: list[str] = []
    url = None
    try:
        deadline = time.monotonic() + 400
        while not any(line.startswith("holding for") for line in output):
            try:
                output.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except Empty:
                pytest.fail("the demo did not reach its report in 400 s:\n" + "".join(output[-40:]))
            if process.poll() is not None and lines.empty():
                pytest.fail("the demo ended early:\n" + "".join(output[-40:]))
            if match := re.match(r"dashboard: (http://\S+) ", output[-1]):
                url = match.group(1)
        assert url is not None, "".join(output)
        yield Demo(url, report, output)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()


def coloured_pixels(driver: object, name: str, rgb: tuple[int, int, int]) -> int:
    """Pixels of the plot showing the data source ``name`` drawn in ``rgb`` (±12 per channel): the data itself,
    where axes, ticks and grid are never that colour."""
    script = """
const [name, r, g, b] = arguments;
const found = Bokeh.documents.map((d) => d.get_model_by_name(name)).filter((m) => m != null);
if (found.length !== 1) throw new Error(`${found.length} models named ${name}`);
const source = found[0];
const views = [...Bokeh.index.all_views()].filter((v) => v.canvas_view != null
  && (v.model.renderers ?? []).some((x) => x.data_source === source));
let n = 0;
for (const view of views) {
  const canvas = view.canvas_view.primary.canvas;
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 0; i < d.length; i += 4) {
    if (Math.abs(d[i] - r) <= 12 && Math.abs(d[i + 1] - g) <= 12 && Math.abs(d[i + 2] - b) <= 12) n++;
  }
}
return n;
"""
    return int(driver.execute_script(script, name, *rgb))  # type: ignore[attr-defined]


def table(driver: object) -> list[tuple[str, str, str]]:
    rows = driver.execute_script(  # type: ignore[attr-defined]
        "return [...document.querySelectorAll('#features tbody tr')]"
        ".map((r) => [r.dataset.feature, r.dataset.verdict, r.dataset.alert])")
    return [tuple(r) for r in rows]


def assert_feature_drawn(driver: object, key: str, *, bins: int | None = None) -> None:
    """The feature's histogram and statistic-over-time plots hold its data and show it (not empty axes)."""
    if bins is not None:
        assert bokeh_source_rows(driver, f"histogram:{key}") == bins  # type: ignore[arg-type]
    # every window but the last, and the last too once the idle time has closed it by the clock
    assert bokeh_source_rows(driver, f"statistic:{key}") in (WINDOWS - 1, WINDOWS)  # type: ignore[arg-type]
    assert bokeh_source_rows(driver, f"samples:{key}") in (WINDOWS - 1, WINDOWS)  # type: ignore[arg-type]
    assert coloured_pixels(driver, f"histogram:{key}", CURRENT_BLUE) > 500, "the histogram's bars are not drawn"
    assert coloured_pixels(driver, f"statistic:{key}", CURRENT_BLUE) > 100, "the statistic's line is not drawn"


def screenshots_dir(tmp_path: Path) -> Path:
    return Path(os.environ.get("DRIFTLINE_SCREENSHOTS") or tmp_path)


def test_the_dashboard_flags_the_drifted_features_and_draws_them(demo: Demo, tmp_path: Path) -> None:
    with chromium(height=1500) as driver:
        driver.get(demo.url)
        wait_until(driver, READY, 60)
        wait_until(driver, BOKEH_IDLE, 30)
        every_row = table(driver)
        rows = [row for row in every_row if "#" not in row[0]]  # the features' distributions ...
        signals = {key for key, _, _ in every_row} - {key for key, _, _ in rows}  # ... and their data quality
        assert {key for key, _, _ in rows} == {*SIM.reference().features, PERFORMANCE_FEATURE}
        flagged = {key for key, verdict, _ in rows if verdict == "DRIFT"}
        assert flagged - {"__performance__"} == DRIFTED
        assert {key for key, _, alert in rows if alert == "firing"} - {"__performance__"} == DRIFTED
        assert all(v == "ok" for k, v, _ in rows if k not in DRIFTED | {"__performance__"})
        # a drifted amount goes beyond the reference's range too: only drifted features' signals may fire
        assert {k.split("#")[0] for k, _, alert in every_row if k in signals and alert == "firing"} <= DRIFTED
        assert every_row[0][0].split("#")[0] in DRIFTED
        selected = "return document.querySelector('#features tr.selected').dataset.feature"
        assert driver.execute_script(selected) == every_row[0][0]
        top = rows[0][0]
        driver.execute_script(f"document.querySelector('#features tr[data-feature=\"{top}\"]').click()")
        wait_until(driver, f"document.querySelector('#features tr.selected').dataset.feature === '{top}'", 10)
        wait_until(driver, f"Bokeh.documents.some((d) => d.get_model_by_name('histogram:{top}'))", 20)
        assert_feature_drawn(driver, top)
        assert_feature_drawn(driver, "__prediction__", bins=3)  # the predicted class: legit, fraud, any other
        assert bokeh_source_rows(driver, "timeline:alerts") >= len(DRIFTED)
        save_screenshot(driver, screenshots_dir(tmp_path) / "dashboard.png")

        calm = rows[-1][0]  # a feature that did not drift: click its row
        driver.execute_script(f"document.querySelector('#features tr[data-feature=\"{calm}\"]').click()")
        wait_until(driver, f"document.querySelector('#features tr.selected').dataset.feature === '{calm}'", 10)
        wait_until(driver, f"Bokeh.documents.some((d) => d.get_model_by_name('histogram:{calm}'))", 20)
        assert_feature_drawn(driver, calm)
        assert "ok" in driver.find_element("id", "feature-head").text

        # The worker goes on: two more windows close the demo's last one and the first new one, and they reach
        # the open page without a reload.
        driver.execute_script("window.__noReload = true")
        asyncio.run(produce_more(demo, range(WINDOWS, WINDOWS + 2)))
        grown = (f"Bokeh.documents.map((d) => d.get_model_by_name('statistic:{calm}')).find((m) => m)"
                 f".get_length() === {WINDOWS + 1}")
        wait_until(driver, grown, 60)
        assert driver.execute_script("return window.__noReload") is True
        assert "live" in driver.find_element("id", "status").text
        assert bokeh_source_rows(driver, f"samples:{calm}") == WINDOWS + 1
        assert coloured_pixels(driver, f"statistic:{calm}", CURRENT_BLUE) > 100
        assert console_errors(driver) == []


def test_the_report_opens_offline_with_the_same_pictures(demo: Demo, tmp_path: Path) -> None:
    assert any(line.startswith(f"report: {demo.report}") for line in demo.output), demo.output
    with chromium(offline=True, height=1500) as driver:
        driver.get(demo.report.as_uri())
        wait_until(driver, READY, 60)
        wait_until(driver, BOKEH_IDLE, 30)
        rows = [row for row in table(driver) if "#" not in row[0]]  # the features' rows, not their signals'
        assert {key for key, verdict, _ in rows if verdict == "DRIFT"} - {"__performance__"} == DRIFTED
        if rows[0][0] != table(driver)[0][0]:  # a signal's row on top: show the first feature's
            driver.execute_script(f"document.querySelector('#features tr[data-feature=\"{rows[0][0]}\"]').click()")
            wait_until(driver, f"Bokeh.documents.some((d) => d.get_model_by_name('histogram:{rows[0][0]}'))", 20)
        assert_feature_drawn(driver, rows[0][0])
        assert_feature_drawn(driver, "__prediction__", bins=3)  # the predicted class: legit, fraud, any other
        calm = rows[-1][0]
        driver.execute_script(f"document.querySelector('#features tr[data-feature=\"{calm}\"]').click()")
        wait_until(driver, f"Bokeh.documents.some((d) => d.get_model_by_name('histogram:{calm}'))", 20)
        assert_feature_drawn(driver, calm)
        driver.execute_script("document.querySelector('#features tr[data-feature=\"channel\"]').click()")
        wait_until(driver, "Bokeh.documents.some((d) => d.get_model_by_name('histogram:channel'))", 20)
        assert bokeh_source_rows(driver, "histogram:channel") >= 3  # its categories and "other"
        assert driver.execute_script(
            "return Bokeh.documents.map((d) => d.get_model_by_name('histogram:channel')).find((m) => m)"
            ".data.bin.at(-1)") == "other"
        driver.execute_script("window.scrollTo(0, 0)")
        save_screenshot(driver, screenshots_dir(tmp_path) / "report.png")
        assert external_requests(driver) == []
        assert console_errors(driver) == []
