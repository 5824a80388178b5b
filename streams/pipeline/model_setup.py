"""How each model is monitored by the worker: its reference, its spec, its window layout, alert and retrain
policies — every translation of a spec into what the pipeline runs is here.

The worker's flags (:class:`WorkerDefaults`) are the spec of every model without
one of its own; :func:`check_supported` refuses, at start-up, the parts of a
valid spec this worker does not run yet, instead of silently ignoring them.
:class:`MonitorCache` re-reads each model's reference every few seconds, so a new version is picked up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from driftline.config import AlertPolicySpec, ModelSpec, RetrainPolicySpec, SlidingWindow, Thresholds, TumblingWindow
from driftline.detectors import AlertPolicy, ModelReference, RetrainPolicy, make_detector, resolve_spec, spec_problems
from driftline.streams.pipeline.budget import FleetLoads, with_ert
from driftline.streams.pipeline.plan import ModelIngest
from driftline.streams.state import ReferenceStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerDefaults:
    """The worker's defaults (its command-line flags): the spec of every model without one of its own."""

    window_seconds: int = 60
    lateness_seconds: int = 0
    min_samples: int = 100
    fire_after: int = 1
    resolve_after: int = 2
    cooldown_seconds: float = 0.0
    reference_refresh_seconds: float = 10.0
    false_alarms_per_day: float | None = None
    """The fleet's budget (:mod:`~driftline.streams.pipeline.budget`); None: every test at its spec's ERT."""
    join_labels: bool = False
    label_ttl_seconds: float = 7 * 24 * 3600
    warmup_events: int = 0
    spread_over_partitions: bool = False

    def default_spec(self) -> ModelSpec:
        return ModelSpec(
            window=TumblingWindow(size_seconds=self.window_seconds, lateness_seconds=self.lateness_seconds),
            thresholds=Thresholds(min_samples=self.min_samples),
            alert_policy=AlertPolicySpec(fire_after=self.fire_after, resolve_after=self.resolve_after,
                                         cooldown_seconds=self.cooldown_seconds),
            join_labels=self.join_labels,
            label_ttl_seconds=self.label_ttl_seconds,
            warmup_events=self.warmup_events,
            spread_over_partitions=self.spread_over_partitions,
        )


@dataclass(frozen=True)
class WindowLayout:
    """Windows as runs of buckets: a tumbling window is one bucket, a sliding one ``size / step`` buckets.

    >>> WindowLayout.of(SlidingWindow(kind="sliding", size_seconds=300, step_seconds=60)).buckets_per_window
    5
    """

    bucket_seconds: int
    buckets_per_window: int
    lateness_seconds: int

    @classmethod
    def of(cls, window: object) -> WindowLayout:
        if isinstance(window, TumblingWindow):
            return cls(window.size_seconds, 1, window.lateness_seconds)
        if isinstance(window, SlidingWindow):
            return cls(window.step_seconds, window.size_seconds // window.step_seconds, window.lateness_seconds)
        raise UnsupportedSpec(f"{getattr(window, 'kind', window)!r} windows are not supported by the worker yet; "
                              "use tumbling or sliding (event-time) windows")


class UnsupportedSpec(ValueError):
    """A valid spec asking for something this worker cannot do yet."""


def check_supported(specs: dict[str, ModelSpec]) -> None:
    """Fail at start-up, naming the model, instead of silently ignoring part of a spec (or failing later
    on an online detector's parameters)."""
    for model_id, spec in specs.items():
        for online in spec.online:
            try:
                make_detector(online.detector, **online.params)
            except ValueError as exc:
                raise UnsupportedSpec(f"model {model_id}: {exc}") from None
        try:
            WindowLayout.of(spec.window)
        except UnsupportedSpec as exc:
            raise UnsupportedSpec(f"model {model_id}: {exc}") from None
        if spec.warmup_events == 0:
            for name, feature in sorted(spec.features.items()):
                for field in sorted(feature.model_fields_set & {"bins", "max_categories"}):
                    raise UnsupportedSpec(
                        f"model {model_id}: feature {name!r} sets {field}, which the reference decides (driftline "
                        f"reference build --{field.replace('_', '-')} N); a spec's {field} applies to a warm-up "
                        "reference only (warmup_events > 0)")


@dataclass(frozen=True)
class ModelMonitor:
    """Everything the processor needs about one model at one reference version."""

    reference: ModelReference
    spec: ModelSpec
    layout: WindowLayout
    policy: AlertPolicy
    retrain: RetrainPolicy | None = None
    budget: Mapping[str, Any] = field(default_factory=dict)
    """What the fleet's false-alarm budget gives the model (recorded with each closed window)."""

    @property
    def model_id(self) -> str:
        return self.reference.model_id

    def ingest(self) -> ModelIngest:
        keep = int(self.spec.label_ttl_seconds) if self.spec.join_labels else 0
        online = tuple((i, d.feature) for i, d in enumerate(self.spec.online) if d.stream != "error")
        return ModelIngest(self.reference, self.layout.bucket_seconds, keep, self.spec.segments, online)


def policy_of(spec: RetrainPolicySpec) -> RetrainPolicy | None:
    """The retrain policy a spec describes; None when retraining is disabled.

    >>> policy_of(RetrainPolicySpec(max_per_day=1)).max_per_day
    1
    >>> policy_of(RetrainPolicySpec(enabled=False)) is None
    True
    """
    if not spec.enabled:
        return None
    return RetrainPolicy(
        min_critical_features=spec.min_critical_features, on_prediction_drift=spec.on_prediction_drift,
        on_performance=spec.on_performance, min_interval_seconds=spec.min_interval_seconds,
        max_per_day=spec.max_per_day, lookback_seconds=spec.lookback_seconds,
    )


def alert_policy_of(spec: ModelSpec) -> AlertPolicy:
    a = spec.alert_policy
    return AlertPolicy(fire_after=a.fire_after, resolve_after=a.resolve_after, cooldown_seconds=a.cooldown_seconds,
                       min_samples=spec.thresholds.min_samples)


def monitor_of(model_id: str, reference: ModelReference, specs: Mapping[str, ModelSpec],
               defaults: ModelSpec, *, ert_windows: float | None = None) -> ModelMonitor:
    """How a model is monitored at this reference: its spec (or the one inferred from the reference), every
    test at ``ert_windows`` when the fleet's budget sets it."""
    spec = resolve_spec(model_id, reference, specs, defaults)
    if ert_windows is not None:
        spec = with_ert(spec, ert_windows)
    for problem in spec_problems(spec, reference):
        log.warning("model %s: %s; it is not monitored until a reference profiles it", model_id, problem)
    log.info("model %s: reference %s, %d feature(s) monitored", model_id, reference.version, len(spec.features))
    return ModelMonitor(reference, spec, WindowLayout.of(spec.window), alert_policy_of(spec),
                        policy_of(spec.retrain_policy))


class MonitorCache:
    """Each model's monitor, its reference re-read every ``refresh_seconds`` so a new version is picked up; the
    fleet's false-alarm budget re-allocated as often (a change rebuilds every monitor)."""

    def __init__(self, references: ReferenceStore, specs: Mapping[str, ModelSpec], defaults: ModelSpec, *,
                 refresh_seconds: float, false_alarms_per_day: float | None = None) -> None:
        self._references = references
        self._specs = specs
        self._defaults = defaults
        self._refresh = refresh_seconds
        self._monitors: dict[str, tuple[float, ModelMonitor | None]] = {}
        self.fleet = FleetLoads(references, specs, defaults, budget_per_day=false_alarms_per_day,
                                step_of=lambda spec: WindowLayout.of(spec.window).bucket_seconds,
                                refresh_seconds=refresh_seconds)

    def spec_for(self, model_id: str) -> ModelSpec:
        """The spec a model runs under (its own, or the worker's defaults)."""
        return self._specs.get(model_id) or self._defaults

    def forget(self, model_id: str) -> None:
        """Re-read this model's reference at the next :meth:`load` (it changed under this worker)."""
        self._monitors.pop(model_id, None)

    async def load(self, model_ids: Collection[str]) -> dict[str, ModelMonitor]:
        """The monitors of the models that have a reference."""
        changed = await self.fleet.refresh()
        now = time.monotonic()
        for model_id in model_ids:
            loaded_at, current = self._monitors.get(model_id, (float("-inf"), None))
            if now - loaded_at >= self._refresh:
                reference = await self._references.get_reference(model_id)
                if reference is None:
                    current = None
                elif current is None or current.reference != reference:
                    changed = self.fleet.note(model_id, reference) or changed
                    current = self._monitor(model_id, reference)
                self._monitors[model_id] = (now, current)
        if changed:  # every test of every model at the new allocation's ERT, and each model's new share
            self._monitors = {m: (at, self._rebudgeted(monitor) if monitor else None)
                              for m, (at, monitor) in self._monitors.items()}
        return {m: monitor for m in model_ids if (monitor := self._monitors[m][1]) is not None}

    def _monitor(self, model_id: str, reference: ModelReference) -> ModelMonitor:
        monitor = monitor_of(model_id, reference, self._specs, self._defaults,
                             ert_windows=self.fleet.ert_for(model_id))
        return replace(monitor, budget=self.fleet.entry(model_id))

    def _rebudgeted(self, monitor: ModelMonitor) -> ModelMonitor:
        """The monitor at the fleet's new allocation: only its ERT and its entry change (no spec resolved again,
        nothing logged: a new model re-allocates every model's)."""
        ert = self.fleet.ert_for(monitor.model_id)
        spec = with_ert(monitor.spec, ert) if ert is not None else monitor.spec
        return replace(monitor, spec=spec, budget=self.fleet.entry(monitor.model_id))
