"""Monitor specs: per model, what to watch and how to decide. Validated, frozen, documented.

A spec is plain data (from TOML or YAML, read by ``driftline.streams.cli.spec_files``)
validated here, so a typo fails at start-up with the file, the field and what
is wrong, instead of silently monitoring nothing.

Example (TOML)::

    [models.fraud-detector]
    window = { kind = "tumbling", size_seconds = 300, lateness_seconds = 30 }
    features.amount = { kind = "numeric" }
    features.channel = { kind = "categorical", max_categories = 20 }
    alert_policy = { fire_after = 2, resolve_after = 3, cooldown_seconds = 3600 }
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

NUMERIC_TESTS = frozenset({"psi", "ks", "wasserstein", "jensen_shannon", "hellinger", "chi_square"})
DISCRETE_TESTS = ("psi", "chi_square")
"""A numeric feature of a few values (a flag, a count, a code: one bin per value) is tested as the discrete
distribution it is: chi-square is the gate (KS assumes a continuous one)."""
CATEGORICAL_TESTS = frozenset({"psi", "chi_square", "jensen_shannon", "hellinger"})
ONLINE_DETECTORS = frozenset({"adwin", "kswin", "page_hinkley", "ddm", "eddm", "hddm_a", "hddm_w"})
ERROR_STREAM_DETECTORS = frozenset({"ddm", "eddm", "hddm_a", "hddm_w"})


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NumericFeature(_Spec):
    kind: Literal["numeric"] = "numeric"
    tests: tuple[str, ...] = ("psi", "ks", "wasserstein")
    bins: int = Field(10, ge=2, le=100)

    @model_validator(mode="after")
    def _known_tests(self) -> NumericFeature:
        _check_known(self.tests, NUMERIC_TESTS, "numeric feature test")
        return self


class CategoricalFeature(_Spec):
    kind: Literal["categorical"]
    tests: tuple[str, ...] = ("psi", "chi_square")
    max_categories: int = Field(50, ge=1, le=10_000)

    @model_validator(mode="after")
    def _known_tests(self) -> CategoricalFeature:
        _check_known(self.tests, CATEGORICAL_TESTS, "categorical feature test")
        return self


def _kind_or(default: str) -> Callable[[object], str | None]:
    """The ``kind`` of a raw or built spec object, ``default`` when it says none."""

    def kind(value: object) -> str | None:
        if isinstance(value, dict):
            tag: str | None = value.get("kind", default)
            return tag
        return getattr(value, "kind", None)

    return kind


Feature = Annotated[
    Annotated[NumericFeature, Tag("numeric")] | Annotated[CategoricalFeature, Tag("categorical")],
    Discriminator(_kind_or("numeric")),
]


class TumblingWindow(_Spec):
    kind: Literal["tumbling"] = "tumbling"
    size_seconds: int = Field(300, gt=0)
    lateness_seconds: int = Field(0, ge=0)


class SlidingWindow(_Spec):
    kind: Literal["sliding"]
    size_seconds: int = Field(gt=0)
    step_seconds: int = Field(gt=0)
    lateness_seconds: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _step_divides_size(self) -> SlidingWindow:
        if self.size_seconds % self.step_seconds:
            raise ValueError("size_seconds must be a multiple of step_seconds (windows are unions of steps)")
        return self


class CountWindow(_Spec):
    kind: Literal["count"]
    size: int = Field(gt=0, description="Events per window.")


Window = Annotated[
    Annotated[TumblingWindow, Tag("tumbling")] | Annotated[SlidingWindow, Tag("sliding")]
    | Annotated[CountWindow, Tag("count")],
    Discriminator(_kind_or("tumbling")),
]


EFFECT_TESTS = ("psi", "jensen_shannon", "hellinger", "wasserstein")
"""The window tests that measure how far a window moved (the others, chi-square and KS, are p-value gates)."""
DEFAULT_FLOORS = {"psi": 0.01, "jensen_shannon": 0.04, "hellinger": 0.035, "wasserstein": 0.06}
"""The smallest effect that alerts, whatever the window's size: about a 0.1-sd shift of a normal feature on
decile bins (docs/thresholds.md has the table)."""
DEFAULT_BANDS = {"psi": 0.25, "jensen_shannon": 0.2, "hellinger": 0.17, "wasserstein": 0.29}
"""The effect at which a drift is critical rather than a warning: about a 0.5-sd shift (PSI's usual 0.25)."""
FIXED_FIELDS = frozenset({"psi_warning", "psi_critical", "jensen_shannon", "hellinger", "wasserstein"})


class Thresholds(_Spec):
    """How a window test's statistic becomes a decision (docs/thresholds.md).

    ``calibrated`` (the default): a drift (warning) at the larger of the value a window of this size exceeds once
    in ``ert_windows`` windows without drift and the effect floor; critical from the band on. ``fixed``: the
    constants ``psi_warning`` / ``psi_critical`` / ``jensen_shannon`` / ``hellinger`` / ``wasserstein``.
    """

    mode: Literal["calibrated", "fixed"] = "calibrated"
    ert_windows: float = Field(
        1_000_000, gt=1, description="calibrated: expected windows between false alarms, per test of a feature.")
    floors: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_FLOORS),
                                     description="calibrated: per effect test, the smallest effect that alerts.")
    bands: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_BANDS),
                                    description="calibrated: per effect test, the effect that is critical.")
    psi_warning: float = Field(0.1, gt=0)
    psi_critical: float = Field(0.25, gt=0)
    jensen_shannon: float = Field(0.1, gt=0, le=1)
    hellinger: float = Field(0.1, gt=0, le=1)
    wasserstein: float = Field(0.1, gt=0)
    p_value: float = Field(0.05, gt=0, lt=1)
    correction: Literal["benjamini_hochberg", "bonferroni", "none"] = "benjamini_hochberg"
    min_samples: int = Field(200, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> Thresholds:
        if self.psi_warning >= self.psi_critical:
            raise ValueError("psi_warning must be below psi_critical")
        fixed = sorted(name for name in FIXED_FIELDS & self.model_fields_set  # a dump's defaults reload
                       if getattr(self, name) != type(self).model_fields[name].default)
        if self.mode == "calibrated" and fixed:
            raise ValueError(f"{', '.join(fixed)} apply to mode = 'fixed'; calibrated thresholds take floors and "
                             "bands (e.g. floors = { psi = 0.02 })")
        for name, table in (("floors", self.floors), ("bands", self.bands)):
            unknown = sorted(set(table) - set(EFFECT_TESTS))
            if unknown:
                raise ValueError(f"{name}: {unknown[0]!r} is not an effect test ({', '.join(EFFECT_TESTS)})")
            if any(v <= 0 for v in table.values()):
                raise ValueError(f"{name} must be positive")
        return self

    def floor(self, test: str) -> float:
        return self.floors.get(test, DEFAULT_FLOORS[test])

    def band(self, test: str) -> float:
        return self.bands.get(test, DEFAULT_BANDS[test])


class OnlineDetectorSpec(_Spec):
    detector: str
    stream: Literal["prediction", "error", "feature"]
    feature: str | None = None
    params: dict[str, float | int | str | bool] = Field(default_factory=dict)
    resolve_after: int = Field(1000, ge=1, description="Values in a row without a detection that resolve an alert.")

    @model_validator(mode="after")
    def _fits_its_stream(self) -> OnlineDetectorSpec:
        _check_known((self.detector,), ONLINE_DETECTORS, "online detector")
        if self.detector in ERROR_STREAM_DETECTORS and self.stream != "error":
            raise ValueError(f"{self.detector} watches a 0/1 error stream: set stream = 'error'")
        if self.detector not in ERROR_STREAM_DETECTORS and self.stream == "error":
            raise ValueError(f"{self.detector} watches a real-valued stream, not the 0/1 error stream")
        if (self.stream == "feature") != (self.feature is not None):
            raise ValueError("feature is required for (and only for) stream = 'feature'")
        return self


class AlertPolicySpec(_Spec):
    fire_after: int = Field(1, ge=1, description="Consecutive drifting windows before an alert fires.")
    resolve_after: int = Field(2, ge=1, description="Consecutive clean windows before it resolves.")
    cooldown_seconds: float = Field(0, ge=0)


class RetrainPolicySpec(_Spec):
    enabled: bool = True
    min_critical_features: int = Field(2, ge=1)
    on_prediction_drift: bool = True
    on_performance: bool = True
    min_interval_seconds: float = Field(6 * 3600, ge=0)
    max_per_day: int = Field(2, ge=1)
    lookback_seconds: float = Field(7 * 24 * 3600, ge=0)


class PerformanceSpec(_Spec):
    """How joined labels are judged: the kind of model, its decision threshold, the alert's test."""

    task: Literal["auto", "binary", "classes", "regression"] = Field(
        "auto", description="binary (a score and 0/1 labels), classes (a class or {class: p}), regression; "
        "auto: from each prediction and label (a score in [0, 1] with a 0/1 label is binary).")
    decision_threshold: float = Field(0.5, gt=0, lt=1, description="A binary model says 1 at scores >= this.")
    min_labels: int = Field(200, ge=10, description="A window is judged once it has this many joined labels.")
    reference_labels: int = Field(
        2000, ge=50, description="Without a labelled reference: the first windows' joined labels, this many "
        "at least, form the performance reference.")
    ert_windows: float = Field(
        10_000, gt=1, description="Expected judged windows between false alarms of the performance alert.")
    max_pending_labels: int = Field(
        1_000_000, ge=0, description="Labels kept waiting for their prediction, at most (then counted dropped).")


class ModelSpec(_Spec):
    features: dict[str, Feature] = Field(default_factory=dict)
    prediction: Feature | None = Field(None, description="Prior drift on scores (numeric) or labels (categorical).")
    infer: bool = Field(
        True, description="Also monitor the reference's features the spec does not name (and the prediction), "
        "with their kind's default tests; false: only the features (and prediction) the spec names.")
    window: Window = Field(default_factory=TumblingWindow)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    online: tuple[OnlineDetectorSpec, ...] = ()
    segments: tuple[str, ...] = Field((), description="Segment keys monitored separately.")
    alert_policy: AlertPolicySpec = Field(default_factory=AlertPolicySpec)
    retrain_policy: RetrainPolicySpec = Field(default_factory=RetrainPolicySpec)
    join_labels: bool = Field(
        False,
        description="Keep each prediction (id -> prediction) for label_ttl_seconds so late LabelEvents can be "
        "joined to it: concept drift and performance. Costs Redis memory per prediction, hence opt-in.",
    )
    label_ttl_seconds: float = Field(
        7 * 24 * 3600, gt=0, description="Retention: how long a prediction is kept for its label, from when it "
        "was stored (its record's timestamp), and how long a label that came first waits for its prediction.")
    performance: PerformanceSpec = Field(default_factory=PerformanceSpec)
    warmup_events: int = Field(
        0, ge=0, le=1_000_000,
        description="For a model without a reference: build one from its first N production events (0: off).",
    )
    spread_over_partitions: bool = Field(
        False,
        description="Producers spread this model's events over every partition of the predictions topic (keyed "
        "by prediction_id, for a model too busy for one worker): its windows close only when every partition "
        "has passed them. Default: keyed by model_id, so the model lives on one partition.",
    )

    @model_validator(mode="after")
    def _monitors_something(self) -> ModelSpec:
        if not self.infer and not self.features and self.prediction is None and not self.join_labels:
            raise ValueError("infer = false and no features, prediction or join_labels: this spec would monitor "
                             "nothing")
        return self

    @model_validator(mode="after")
    def _online_features_exist(self) -> ModelSpec:
        for spec in self.online:
            if spec.feature is not None and spec.feature not in self.features:
                raise ValueError(f"online detector on unknown feature {spec.feature!r}")
            if spec.stream == "error" and not self.join_labels:
                raise ValueError(f"{spec.detector} watches errors from joined labels: set join_labels = true")
        return self


class MonitorConfig(_Spec):
    models: dict[str, ModelSpec]


class SpecError(ValueError):
    """A spec that does not validate: one line per problem, each naming the source and the field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def parse_monitor_config(data: object, *, source: str = "<spec>") -> MonitorConfig:
    """Validate already-parsed TOML/YAML data.

    >>> cfg = parse_monitor_config({"models": {"m": {"features": {"x": {"kind": "numeric"}}}}})
    >>> cfg.models["m"].window.size_seconds
    300
    >>> try:
    ...     parse_monitor_config({"models": {"m": {"thresholds": {"psi_critical": 0.05}}}}, source="m.toml")
    ... except SpecError as exc:
    ...     print(exc)
    m.toml: models.m.thresholds: psi_warning must be below psi_critical
    """
    try:
        return MonitorConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"] if not _is_union_tag(p)) or "(top level)"
            problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        raise SpecError(source, problems) from None


def _is_union_tag(part: object) -> bool:
    return part in {"numeric", "categorical", "tumbling", "sliding", "count"}


def _check_known(names: tuple[str, ...], known: frozenset[str], what: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {what} {unknown[0]!r}; choose from {', '.join(sorted(known))}")
