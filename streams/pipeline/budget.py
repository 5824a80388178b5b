"""The fleet's false-alarm budget, kept by each worker (:mod:`driftline.detectors.budget` does the arithmetic).

Every worker sees the same fleet: every model with a reference in the store, each under its spec (or the
worker's defaults). :class:`FleetLoads` keeps each model's load (windows a day, tests a window) by reference
version, reads the references of models it has not seen when the fleet's list changes, and allocates the budget
over them; all workers of a deployment, given the same specs and flags, allocate the same. What a model gets is
written with each of its closed windows (``latest``'s ``__fleet__#budget``), where ``driftline status`` and the
dashboard read it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from driftline.config import ModelSpec
from driftline.detectors import ModelLoad, ModelReference, allocate, count_window_tests, resolve_spec, windows_per_day
from driftline.streams.state import ReferenceStore


def load_of(spec: ModelSpec, reference: ModelReference, step_seconds: int, *, own_ert: bool) -> ModelLoad:
    return ModelLoad(windows_per_day(step_seconds), count_window_tests(spec, reference),
                     spec.thresholds.ert_windows if own_ert else None)


def with_ert(spec: ModelSpec, ert_windows: float) -> ModelSpec:
    """The spec with every test calibrated to ``ert_windows``.

    >>> with_ert(ModelSpec(), 5e4).thresholds.ert_windows
    50000.0
    """
    if spec.thresholds.ert_windows == ert_windows:
        return spec
    return spec.model_copy(update={"thresholds": spec.thresholds.model_copy(update={"ert_windows": ert_windows})})


class FleetLoads:
    """Every model's load and the budget's allocation over them, refreshed every ``refresh_seconds``."""

    def __init__(self, references: ReferenceStore, specs: Mapping[str, ModelSpec], defaults: ModelSpec, *,
                 budget_per_day: float | None, step_of: Callable[[ModelSpec], int], refresh_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._references = references
        self._specs = specs
        self._defaults = defaults
        self._budget = budget_per_day
        self._step_of = step_of
        self._refresh = refresh_seconds
        self._clock = clock
        self._loads: dict[str, tuple[str, ModelLoad]] = {}
        self._checked = float("-inf")
        self.allocation = allocate({}, budget_per_day, default_ert=defaults.thresholds.ert_windows)

    def _load(self, model_id: str, reference: ModelReference) -> ModelLoad:
        own = self._specs.get(model_id)
        spec = resolve_spec(model_id, reference, self._specs, self._defaults)
        own_ert = own is not None and "ert_windows" in own.thresholds.model_fields_set
        return load_of(spec, reference, self._step_of(spec), own_ert=own_ert)

    def note(self, model_id: str, reference: ModelReference) -> bool:
        """A reference the worker loaded for a model; True when the allocation changed."""
        known = self._loads.get(model_id)
        if known is not None and known[0] == reference.version:
            return False
        self._loads[model_id] = (reference.version, self._load(model_id, reference))
        return self._reallocate()

    async def refresh(self) -> bool:
        """Every ``refresh_seconds``: the fleet's models (new ones' references read once); True when the
        allocation changed."""
        now = self._clock()
        if now - self._checked < self._refresh:
            return False
        self._checked = now
        ids = set(await self._references.model_ids())
        for gone in self._loads.keys() - ids:
            del self._loads[gone]
        for model_id in sorted(ids - self._loads.keys()):
            reference = await self._references.get_reference(model_id)
            if reference is not None:
                self._loads[model_id] = (reference.version, self._load(model_id, reference))
        return self._reallocate()

    def ert_for(self, model_id: str) -> float | None:
        """The ERT the budget gives the model's tests; None without a budget, or for a model whose spec sets
        its own (its spec's holds)."""
        if self._budget is None or self._owns_ert(model_id):
            return None
        return self.allocation.ert_windows.get(model_id)

    def _owns_ert(self, model_id: str) -> bool:
        load = self._loads.get(model_id, ("", None))[1]
        return load is not None and load.own_ert_windows is not None

    def entry(self, model_id: str) -> dict[str, Any]:
        """What the model's closed windows record of the budget (``__fleet__#budget``)."""
        plan, load = self.allocation, self._loads.get(model_id, ("", None))[1]
        ert = plan.ert_windows.get(model_id, self._defaults.thresholds.ert_windows)
        return {"budget_per_day": plan.budget_per_day, "ert_windows": ert,
                "expected_per_day": plan.expected_per_day.get(model_id), "share": plan.share(model_id),
                "fleet_expected_per_day": plan.fleet_expected_per_day, "models": len(plan.ert_windows),
                "tests": load.tests if load else None, "windows_per_day": load.windows_per_day if load else None,
                "own_ert": bool(load and load.own_ert_windows is not None), "over_budget": plan.over_budget}

    def _reallocate(self) -> bool:
        loads = {m: load for m, (_, load) in self._loads.items()}
        plan = allocate(loads, self._budget, default_ert=self._defaults.thresholds.ert_windows)
        changed = plan != self.allocation  # the ERTs, or only the shares the monitors record
        self.allocation = plan
        return changed

