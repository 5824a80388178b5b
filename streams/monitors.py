"""How each model is monitored by the worker: its reference, its spec, its window layout and alert policy.

The worker's flags (:class:`WindowOptions`) are the spec of every model without
one of its own; :func:`check_supported` refuses, at start-up, the parts of a
valid spec this worker does not run yet, instead of silently ignoring them.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftline.config.monitor_spec import AlertPolicySpec, ModelSpec, SlidingWindow, Thresholds, TumblingWindow
from driftline.detectors.online import make_detector
from driftline.detectors.policies.alert_policy import AlertPolicy
from driftline.detectors.policies.retrain_policy import RetrainPolicy
from driftline.detectors.reference import ModelReference
from driftline.streams.batch import ModelIngest


@dataclass(frozen=True)
class WindowOptions:
    """The worker's defaults (its command-line flags): the spec of every model without one of its own."""

    window_seconds: int = 60
    lateness_seconds: int = 0
    min_samples: int = 100
    fire_after: int = 1
    resolve_after: int = 2
    cooldown_seconds: float = 0.0
    reference_refresh_seconds: float = 10.0
    join_labels: bool = False
    warmup_events: int = 0
    spread_over_partitions: bool = False

    def default_spec(self) -> ModelSpec:
        return ModelSpec(
            window=TumblingWindow(size_seconds=self.window_seconds, lateness_seconds=self.lateness_seconds),
            thresholds=Thresholds(min_samples=self.min_samples),
            alert_policy=AlertPolicySpec(fire_after=self.fire_after, resolve_after=self.resolve_after,
                                         cooldown_seconds=self.cooldown_seconds),
            join_labels=self.join_labels,
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


@dataclass(frozen=True)
class ModelMonitor:
    """Everything the processor needs about one model at one reference version."""

    reference: ModelReference
    spec: ModelSpec
    layout: WindowLayout
    policy: AlertPolicy
    retrain: RetrainPolicy | None = None

    @property
    def model_id(self) -> str:
        return self.reference.model_id

    def ingest(self) -> ModelIngest:
        keep = int(self.spec.label_ttl_seconds) if self.spec.join_labels else 0
        online = tuple((i, d.feature) for i, d in enumerate(self.spec.online) if d.stream != "error")
        return ModelIngest(self.reference, self.layout.bucket_seconds, keep, self.spec.segments, online)
