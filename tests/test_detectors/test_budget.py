"""The fleet's false-alarm budget: how it is shared out as each model's ERT (detectors/budget.py)."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.config import ModelSpec
from driftline.detectors import ModelLoad, ModelReference, allocate, count_window_tests, resolve_spec


def test_every_test_of_every_model_gets_the_same_false_alarm_rate_and_the_fleet_expects_the_budget() -> None:
    loads = {f"m{i}": ModelLoad(1440.0 / (i + 1), 10 + i) for i in range(50)}
    plan = allocate(loads, 3.0, default_ert=1e6)
    assert len(set(plan.ert_windows.values())) == 1
    assert plan.fleet_expected_per_day == pytest.approx(3.0, rel=0.05)  # the ERT is rounded to two digits
    busiest = max(loads, key=lambda m: loads[m].test_windows_per_day)
    assert plan.share(busiest) == pytest.approx(loads[busiest].test_windows_per_day
                                                / sum(x.test_windows_per_day for x in loads.values()))
    assert sum(plan.share(m) for m in loads) == pytest.approx(1.0)


def test_a_model_with_its_own_ert_keeps_it_and_is_taken_out_of_the_budget_first() -> None:
    loads = {"own": ModelLoad(1440.0, 10, own_ert_windows=14_400.0), "a": ModelLoad(1440.0, 10)}
    plan = allocate(loads, 3.0, default_ert=1e6)
    assert plan.ert_windows["own"] == 14_400.0 and plan.expected_per_day["own"] == pytest.approx(1.0)
    assert plan.expected_per_day["a"] == pytest.approx(2.0, rel=0.05)
    assert not plan.over_budget


def test_own_erts_that_spend_the_whole_budget_leave_the_others_the_budget_never_an_infinite_threshold() -> None:
    loads = {"own": ModelLoad(1440.0, 10, own_ert_windows=1_000.0), "a": ModelLoad(1440.0, 10)}
    plan = allocate(loads, 3.0, default_ert=1e6)
    assert plan.over_budget
    assert plan.expected_per_day["a"] == pytest.approx(3.0, rel=0.05)


def test_without_a_budget_every_model_keeps_the_default_and_its_expected_false_alarms_are_reported() -> None:
    plan = allocate({"a": ModelLoad(1440.0, 25)}, None, default_ert=1e6)
    assert plan.ert_windows == {"a": 1e6}
    assert plan.fleet_expected_per_day == pytest.approx(1440 * 25 / 1e6)
    with pytest.raises(ValueError, match="positive"):
        allocate({}, 0.0, default_ert=1e6)


def test_a_model_counts_each_effect_test_and_each_data_quality_signal_of_every_feature() -> None:
    rng = np.random.default_rng(0)
    ref = ModelReference.build("m", "v1", {"x": rng.normal(size=500), "flag": rng.integers(0, 2, 500).astype(float)},
                               categorical={"c": list("abc") * 100})
    spec = resolve_spec("m", ref, {}, ModelSpec())
    effects = sum(sum(t in ("psi", "jensen_shannon", "hellinger", "wasserstein") for t in f.tests)
                  for f in spec.features.values())
    assert count_window_tests(spec, ref) == effects + 3 + 3 + 2
    only_gate = ModelSpec.model_validate({"infer": False, "features": {"x": {"tests": ["ks"]}}})
    assert count_window_tests(only_gate, ref) == 1 + 3  # a gate alone is held to 1 / ERT as well
