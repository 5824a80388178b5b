"""False alarms a day under the fleet's budget, and how many windows a shift takes to fire: the default
thresholds (calibrated, ``--false-alarms-per-day``) against the fixed PSI band they replaced.

Both parts run FraudSimulator traffic (20 normal features, 3 categorical ones, a flag, a count, a code, an
income with nulls, a tenure sometimes absent, a zero-inflated refund, a score) through the worker's own
prediction processor on the in-memory state: the same decode, binning, window closes, calibrated bars,
Benjamini-Hochberg and alert policy as on Kafka and Redis, without the services (which would only make the
run slower). Every decision is made twice on the same events: ``new`` (the defaults, with the budget) and
``old`` (``thresholds.mode = "fixed"``: PSI warning 0.1 / critical 0.25, the others 0.1).

1. **False alarms**: a fleet of three models, stationary for ``--days`` event-time days: ``small`` (100 events
   a 1-minute window), ``mid`` (1,000 a 5-minute window) and ``large`` (20,000 an hour). Every firing alert is
   a false alarm. The budget's figure (``expected``) is an upper bound (docs/thresholds.md).
2. **Delays**: model ``mid`` at 3,000 events a window, two calm windows, then ``--shift-windows`` windows of
   one shift: a mean shift of a numeric feature by 0.05-1 sd, a 5-point category-mix change, a flag whose rate
   goes from 3 % to 5 %. The delay is the number of shifted windows up to the first firing alert on that
   feature (1: the first shifted window fires; null: none of them did).

    python bench/false_alarms.py [--days 1] [--budget 48] [--shift-windows 8] [--scale 1.0]

``--scale`` multiplies every window's event count (0.1 for a quick look). Ends with one JSON line:
``{"days", "budget_false_alarms_per_day", "expected_false_alarms_per_day", "observed_false_alarms_per_day",
"old_false_alarms_per_day", "false_alarms", "ert_windows", "delays", "within_budget", "seconds"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from driftline.config.events import DriftAlert
from driftline.config.monitor_spec import ModelSpec
from driftline.config.settings import Settings, load_settings
from driftline.detectors.budget import BUDGET_KEY
from driftline.streams.ingest.decode import Record, decode
from driftline.streams.pipeline.model_setup import WorkerDefaults
from driftline.streams.pipeline.outputs import Outputs
from driftline.streams.pipeline.predictions import PredictionProcessor
from driftline.streams.pipeline.retrain import RetrainStep
from driftline.streams.state import MemoryState
from driftline.streams.testing.realistic import shifted
from driftline.streams.testing.simulate import EPOCH, FraudSimulator

BATCH = 5_000
SECONDS_PER_DAY = 86_400
CALM_WINDOWS = 2


@dataclass(frozen=True)
class FleetModel:
    name: str
    window_seconds: int
    events_per_window: int
    seed: int

    def simulator(self) -> FraudSimulator:
        return FraudSimulator(model_id=self.name, seed=self.seed)


FLEET = (FleetModel("small", 60, 100, 11), FleetModel("mid", 300, 1_000, 12), FleetModel("large", 3_600, 20_000, 13))
SHIFT_MODEL, SHIFT_EVENTS = "mid", 3_000


@dataclass(frozen=True)
class Shift:
    """One change from the third window on: ``events`` keyword arguments of FraudSimulator, or a profile."""

    label: str
    feature: str
    events: Mapping[str, Any] = field(default_factory=dict)
    profile: Mapping[str, Any] = field(default_factory=dict)


SHIFTS = (
    *(Shift(f"{sd}sd", "velocity_score", {"shift": {"velocity_score": sd}})
      for sd in (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)),
    # BR's share from 20 % to 25 %: each event takes BR with p on top of the usual mix, 0.2 + 0.8 p = 0.25
    Shift("country+5pt", "country", {"category_shift": {"country": ("BR", 0.0625)}}),
    Shift("flag3to5pct", "is_new_customer", profile={"flag_rate": 0.05}),
)


class Alerts:
    """The broker: keeps every alert published."""

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.topics.alerts
        self.alerts: list[DriftAlert] = []

    async def __call__(self, topic: str, key: bytes, value: bytes) -> None:
        if topic == self.topic:
            self.alerts.append(decode(value, DriftAlert, max_bytes=10**7))

    def firing(self) -> list[DriftAlert]:
        return [a for a in self.alerts if a.state == "firing"]


class Monitor:
    """One worker's prediction processor on its own in-memory state."""

    def __init__(self, specs: Mapping[str, ModelSpec], budget: float | None) -> None:
        self.settings = load_settings()
        self.state = MemoryState()
        self.broker = Alerts(self.settings)
        outputs = Outputs(self.broker, self.settings.topics)
        self.processor = PredictionProcessor(
            self.settings, self.state.windows, outputs, WorkerDefaults(false_alarms_per_day=budget), specs=specs,
            leases=self.state.leases, retrain=RetrainStep(self.state.retrain, outputs), retry_delays=(0.0,),
            monotonic=lambda: 0.0)  # event time only: no model goes silent or idle while another is fed

    async def put_references(self, fleet: Iterable[FleetModel]) -> None:
        for model in fleet:
            await self.state.windows.put_reference(model.simulator().reference())

    async def process(self, records: list[Record]) -> None:
        for start in range(0, len(records), BATCH):
            await self.processor.process(records[start:start + BATCH])

    async def budget_entry(self, model_id: str) -> dict[str, Any]:
        return (await self.state.windows.latest(model_id)).get(BUDGET_KEY, {})


def specs(mode: str, window_seconds: Mapping[str, int]) -> dict[str, ModelSpec]:
    return {name: ModelSpec.model_validate({"window": {"size_seconds": seconds},
                                            "thresholds": {"mode": mode, "min_samples": 100}})
            for name, seconds in window_seconds.items()}


class Offsets:
    """One partition's offsets, counted over every record made."""

    def __init__(self) -> None:
        self.next = 0

    def records(self, events: Iterable[Mapping[str, object]]) -> list[Record]:
        out = []
        for event in events:
            out.append(Record(0, self.next, orjson.dumps(event)))
            self.next += 1
        return out


def fleet_hour(hour: int, fleet: Iterable[FleetModel], scale: float) -> Iterator[Mapping[str, object]]:
    """Every model's events of one event-time hour, window by window."""
    for model in fleet:
        sim, per_hour = model.simulator(), max(1, 3_600 // model.window_seconds)
        n = max(1, round(model.events_per_window * scale))
        for window in range(hour * per_hour, (hour + 1) * per_hour):
            yield from sim.events(window=window, n=n, window_seconds=model.window_seconds)


async def false_alarms(days: float, budget: float, scale: float) -> dict[str, Any]:
    seconds = {m.name: m.window_seconds for m in FLEET}
    new, old = Monitor(specs("calibrated", seconds), budget), Monitor(specs("fixed", seconds), None)
    for monitor in (new, old):
        await monitor.put_references(FLEET)
    offsets = Offsets()
    hours = round(days * 24)
    for hour in range(hours + 1):  # the next hour's first windows close the last hour's
        records = offsets.records(fleet_hour(hour, FLEET, scale))
        for monitor in (new, old):
            await monitor.process(records)
        print(f"hour {hour + 1}/{hours + 1}: {len(new.broker.firing())} false alarms (old rule: "
              f"{len(old.broker.firing())})", file=sys.stderr, flush=True)
    ran = hours / 24
    entries = {m.name: await new.budget_entry(m.name) for m in FLEET}
    return {
        "days": ran,
        "events": offsets.next,
        "expected_false_alarms_per_day": max(e.get("fleet_expected_per_day") or 0.0 for e in entries.values()),
        "observed_false_alarms_per_day": len(new.broker.firing()) / ran,
        "old_false_alarms_per_day": len(old.broker.firing()) / ran,
        "false_alarms": {"new": _by_detector(new.broker.firing()), "old": _by_detector(old.broker.firing())},
        "ert_windows": {name: e.get("ert_windows") for name, e in entries.items()},
    }


def _by_detector(alerts: list[DriftAlert]) -> dict[str, int]:
    return dict(sorted(Counter(f"{a.model_id}/{a.detector}" for a in alerts).items()))


def shift_events(shift: Shift, windows: int, scale: float) -> Iterator[Mapping[str, object]]:
    model = next(m for m in FLEET if m.name == SHIFT_MODEL)
    calm = model.simulator()
    moved = replace(calm, profile=shifted(**shift.profile)) if shift.profile else calm
    n = max(1, round(SHIFT_EVENTS * scale))
    for window in range(CALM_WINDOWS + windows + 1):  # one more window: its first event closes the last
        if window < CALM_WINDOWS:
            yield from calm.events(window=window, n=n, window_seconds=model.window_seconds)
        else:
            yield from moved.events(window=window, n=n, window_seconds=model.window_seconds, **shift.events)


def delay(alerts: list[DriftAlert], feature: str, window_seconds: int) -> int | None:
    """Shifted windows up to the first firing alert on ``feature`` (1: the first shifted window)."""
    fired = [a for a in alerts if a.state == "firing" and a.feature == feature]
    if not fired:
        return None
    start = min(a.window.start for a in fired).timestamp() - EPOCH.timestamp()
    return int(start // window_seconds) - CALM_WINDOWS + 1


async def delays(budget: float, windows: int, scale: float) -> dict[str, dict[str, Any]]:
    seconds = {m.name: m.window_seconds for m in FLEET}
    window_seconds = seconds[SHIFT_MODEL]
    out: dict[str, dict[str, Any]] = {}
    for shift in SHIFTS:
        records = Offsets().records(shift_events(shift, windows, scale))
        row: dict[str, Any] = {}
        for name, monitor in (("new", Monitor(specs("calibrated", seconds), budget)),
                              ("old", Monitor(specs("fixed", seconds), None))):
            await monitor.put_references(FLEET)  # the whole fleet: the budget shares out as in part 1
            await monitor.process(records)
            firing = monitor.broker.firing()
            row[name] = delay(firing, shift.feature, window_seconds)
            row[f"{name}_other_alerts"] = sum(1 for a in firing if a.feature != shift.feature)
        out[shift.label] = row
        print(f"{shift.label}: new {row['new']}, old {row['old']}", file=sys.stderr, flush=True)
    return out


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=1.0, help="event-time days of stationary traffic")
    parser.add_argument("--budget", type=float, default=48.0, help="the fleet's false alarms a day")
    parser.add_argument("--shift-windows", type=int, default=8, help="shifted windows per shift")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every window's event count")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = {"budget_false_alarms_per_day": args.budget, **await false_alarms(args.days, args.budget, args.scale)}
    result["delays"] = await delays(args.budget, args.shift_windows, args.scale)
    result["within_budget"] = result["observed_false_alarms_per_day"] <= 2 * args.budget
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
