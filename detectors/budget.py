"""One false-alarm budget for the fleet: expected false alarms per day across every model and feature, turned
into the expected run time (``ert_windows``) each test of each model is calibrated to (docs/thresholds.md).

A model closes ``windows_per_day`` windows (86,400 / its window step) and runs ``tests`` tests in each
(:func:`count_window_tests`). Under no drift a test calibrated to ERT windows fires with probability ``1 / ERT``
per window, so the model expects ``windows_per_day · tests / ERT`` false alarms a day (an upper bound: the tests
of one feature read the same counts, and a p-value gate or ``fire_after > 1`` only lowers it). The allocation
gives every test of every budgeted model the same false-alarm probability per window: with ``W`` the fleet's
test-windows a day and ``B`` the budget, ``ERT = W / B``; a model's share of ``B`` is its share of ``W``. A model
whose spec sets its own ``thresholds.ert_windows`` keeps it: its expected false alarms are reported, and taken
out of the budget before the rest is shared (if they spend it all, the rest share the whole budget and the
allocation says ``over_budget``: never an infinite threshold). ERTs are rounded to two significant digits, so
the fleet's small changes do not move every threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from driftline.config import EFFECT_TESTS, CategoricalFeature, ModelSpec
from driftline.detectors.reference import ModelReference
from driftline.detectors.spec_resolution import monitored_features

BUDGET_KEY = "__fleet__#budget"
"""Where a model's closed window records what the budget gives it (beside its features' latest statistics)."""
SECONDS_PER_DAY = 86_400.0
SIGNALS_PER_KIND = {"numeric": 3, "categorical": 2}
"""The data-quality signals a feature runs, each at ``1 / ERT``: missing, type_mismatch and out_of_range for a
numeric feature; missing and unseen for a categorical one (:mod:`~driftline.detectors.quality`)."""
MIN_ERT_WINDOWS = 10.0


@dataclass(frozen=True)
class ModelLoad:
    """How many tests a model runs a day, and the ERT its spec fixes (None: the budget decides).

    >>> ModelLoad(1440.0, 25).test_windows_per_day
    36000.0
    """

    windows_per_day: float
    tests: int
    own_ert_windows: float | None = None

    @property
    def test_windows_per_day(self) -> float:
        return self.windows_per_day * self.tests


@dataclass(frozen=True)
class Allocation:
    """The ERT each model's tests run at and the false alarms a day that gives each model and the fleet.

    >>> plan = Allocation(1.0, {"a": 1e4, "b": 1e4}, {"a": 0.75, "b": 0.25})
    >>> plan.fleet_expected_per_day, plan.share("a")
    (1.0, 0.75)
    """

    budget_per_day: float | None
    ert_windows: dict[str, float]
    expected_per_day: dict[str, float]
    over_budget: bool = False
    """The models with their own ERT expect more than the whole budget."""

    @property
    def fleet_expected_per_day(self) -> float:
        return sum(self.expected_per_day.values())

    def share(self, model_id: str) -> float:
        """The model's share of the fleet's expected false alarms (0 to 1)."""
        total = self.fleet_expected_per_day
        return self.expected_per_day.get(model_id, 0.0) / total if total > 0 else 0.0


def count_window_tests(spec: ModelSpec, reference: ModelReference) -> int:
    """The tests a model (its resolved spec) runs in a window, each calibrated to ERT: per monitored feature,
    its effect tests (at least one: a p-value gate alone decides at ``1 / ERT`` too) and its data-quality
    signals.

    >>> import numpy as np
    >>> ref = ModelReference.build("m", "v1", {"x": np.arange(100.0)}, categorical={"c": ["a", "b"] * 50})
    >>> from driftline.detectors.spec_resolution import resolve_spec
    >>> count_window_tests(resolve_spec("m", ref, {}, ModelSpec()), ref)  # x: psi, wasserstein + 3; c: psi + 2
    8
    """
    tests = 0
    for feature in monitored_features(spec, reference).values():
        effects = sum(1 for t in feature.tests if t in EFFECT_TESTS)
        kind = "categorical" if isinstance(feature, CategoricalFeature) else "numeric"
        tests += max(effects, 1) + SIGNALS_PER_KIND[kind]
    return tests


def windows_per_day(step_seconds: float) -> float:
    """A model closing a window every ``step_seconds`` (a tumbling window's size, a sliding one's step).

    >>> windows_per_day(60)
    1440.0
    """
    return SECONDS_PER_DAY / step_seconds


def allocate(loads: Mapping[str, ModelLoad], budget_per_day: float | None, *, default_ert: float) -> Allocation:
    """Each model's ERT: its own, ``default_ert`` without a budget, else ``W / B'`` for every budgeted model
    (``B'``: the budget less what the models with their own ERT expect; at least :data:`MIN_ERT_WINDOWS`).

    >>> loads = {"a": ModelLoad(1440.0, 25), "b": ModelLoad(288.0, 25)}
    >>> plan = allocate(loads, 2.0, default_ert=1e6)
    >>> plan.ert_windows["a"] == plan.ert_windows["b"] == 22_000.0  # (1440 + 288) · 25 / 2, two digits
    True
    >>> round(plan.fleet_expected_per_day, 2), round(plan.share("a"), 3)  # a closes 5x the windows of b
    (1.96, 0.833)
    >>> allocate(loads, None, default_ert=1e6).ert_windows["a"]
    1000000.0
    """
    if budget_per_day is not None and budget_per_day <= 0:
        raise ValueError("the false-alarm budget must be positive")
    own = {m: load.own_ert_windows for m, load in loads.items() if load.own_ert_windows is not None}
    budgeted = {m: load for m, load in loads.items() if m not in own}
    ert = dict(own)
    over = False
    if budget_per_day is None:
        ert.update({m: default_ert for m in budgeted})
    elif budgeted:
        spent = sum(loads[m].test_windows_per_day / e for m, e in own.items())
        over = spent >= budget_per_day
        remaining = budget_per_day if over else budget_per_day - spent
        demand = sum(load.test_windows_per_day for load in budgeted.values())
        shared = _two_digits(max(demand / remaining, MIN_ERT_WINDOWS))
        ert.update({m: shared for m in budgeted})
    expected = {m: loads[m].test_windows_per_day / e for m, e in ert.items()}
    return Allocation(budget_per_day, ert, expected, over)


def _two_digits(x: float) -> float:
    return float(f"{x:.2g}")
