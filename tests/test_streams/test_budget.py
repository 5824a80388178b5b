"""The worker's side of the fleet's false-alarm budget (streams/pipeline/budget.py): every model with a
reference counts, each monitor runs at the allocation's ERT, and a new model re-allocates."""

from __future__ import annotations

import asyncio

import numpy as np

from driftline.config import ModelSpec, Thresholds, TumblingWindow
from driftline.detectors import ModelReference
from driftline.streams.pipeline.model_setup import MonitorCache
from driftline.streams.state import MemoryState


def _reference(model_id: str, n_features: int = 3) -> ModelReference:
    rng = np.random.default_rng(len(model_id))
    return ModelReference.build(model_id, "v1", {f"x{i}": rng.normal(size=400) for i in range(n_features)})


def test_the_budget_is_shared_over_every_model_with_a_reference_and_a_new_model_reallocates() -> None:
    async def run() -> None:
        state = MemoryState()
        for model_id in ("a", "b"):
            await state.windows.put_reference(_reference(model_id))
        defaults = ModelSpec(window=TumblingWindow(size_seconds=60))
        specs = {"slow": ModelSpec(window=TumblingWindow(size_seconds=600))}
        cache = MonitorCache(state.windows, specs, defaults, refresh_seconds=0.0, false_alarms_per_day=2.0)
        monitors = await cache.load({"a"})
        # b counts though this worker has not seen its events: 2 models x 1440 windows x 3 features x 5 tests
        tests = 3 * (2 + 3)
        assert monitors["a"].spec.thresholds.ert_windows == float(f"{2 * 1440 * tests / 2.0:.2g}")
        assert monitors["a"].budget["share"] == 0.5 and monitors["a"].budget["models"] == 2

        await state.windows.put_reference(_reference("slow"))
        monitors = await cache.load({"a", "slow"})
        ert = monitors["a"].spec.thresholds.ert_windows
        assert ert == monitors["slow"].spec.thresholds.ert_windows == float(f"{(2 * 1440 + 144) * tests / 2:.2g}")
        assert monitors["slow"].budget["share"] < monitors["a"].budget["share"]  # 10x fewer windows a day
        assert abs(monitors["a"].budget["fleet_expected_per_day"] - 2.0) < 0.1

    asyncio.run(run())


def test_a_model_whose_spec_sets_its_ert_keeps_it_and_without_a_budget_nothing_changes() -> None:
    async def run() -> None:
        state = MemoryState()
        for model_id in ("own", "other"):
            await state.windows.put_reference(_reference(model_id))
        specs = {"own": ModelSpec(thresholds=Thresholds(ert_windows=5_000))}
        cache = MonitorCache(state.windows, specs, ModelSpec(), refresh_seconds=0.0, false_alarms_per_day=1.0)
        monitors = await cache.load({"own", "other"})
        assert monitors["own"].spec.thresholds.ert_windows == 5_000
        assert monitors["own"].budget["own_ert"] and not monitors["other"].budget["own_ert"]
        unbudgeted = await MonitorCache(state.windows, specs, ModelSpec(), refresh_seconds=0.0).load({"other"})
        assert unbudgeted["other"].spec.thresholds.ert_windows == 1_000_000
        assert unbudgeted["other"].budget["budget_per_day"] is None
        assert unbudgeted["other"].budget["expected_per_day"] == 288 * 15 / 1_000_000  # 300-s windows

    asyncio.run(run())
