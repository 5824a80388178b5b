"""bench/false_alarms.py's pieces on the in-memory state (no services): the delay it reads off the alerts, and a
shift it must see and a stationary stretch it must not alarm on under the budget."""

from __future__ import annotations

from datetime import timedelta
from types import ModuleType

import pytest

from driftline.config.events import DriftAlert, TimeWindow
from driftline.streams.testing.simulate import EPOCH

from .support.bench import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("false_alarms")


def _alert(feature: str, window: int, state: str = "firing") -> DriftAlert:
    start = EPOCH + timedelta(seconds=300 * window)
    return DriftAlert(alert_id=f"a{window}{feature}{state}", model_id="mid", feature=feature, detector="psi",
                      statistic=0.3, threshold=0.1, severity="critical", state=state,  # type: ignore[arg-type]
                      window=TimeWindow(start=start, end=start + timedelta(seconds=300)), reference_version="v",
                      n_reference=20_000, n_current=3_000)


def test_the_delay_counts_shifted_windows_to_the_first_firing_alert_on_the_feature(bench: ModuleType) -> None:
    calm = bench.CALM_WINDOWS
    alerts = [_alert("country", calm), _alert("velocity_score", calm + 3, "resolved"),
              _alert("velocity_score", calm + 2), _alert("velocity_score", calm + 4)]
    assert bench.delay(alerts, "velocity_score", 300) == 3
    assert bench.delay(alerts, "country", 300) == 1  # the first shifted window
    assert bench.delay(alerts, "amount", 300) is None
    assert bench.delay([_alert("amount", calm + 1, "resolved")], "amount", 300) is None  # only a firing one counts


async def test_a_half_sd_shift_fires_at_once_and_calm_windows_do_not(bench: ModuleType) -> None:
    shift = next(s for s in bench.SHIFTS if s.label == "0.5sd")
    records = bench.Offsets().records(bench.shift_events(shift, 2, 0.2))
    monitor = bench.Monitor(bench.specs("calibrated", {m.name: m.window_seconds for m in bench.FLEET}), 48.0)
    await monitor.put_references(bench.FLEET)
    await monitor.process(records)
    firing = monitor.broker.firing()
    assert bench.delay(firing, shift.feature, 300) == 1
    assert all(a.window.start >= EPOCH + timedelta(seconds=300 * bench.CALM_WINDOWS) for a in firing)
    budget = await monitor.budget_entry("mid")
    assert budget["budget_per_day"] == 48.0 and budget["models"] == len(bench.FLEET)  # the fleet shares it out
