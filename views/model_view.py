"""One model as the dashboard, the report and ``driftline status`` show it: plain data, no I/O.

:func:`build_model_view` turns what Redis keeps (the reference, the window history, the alert and trigger
history, the alerts firing now, the joined labels' counts) into a :class:`ModelView`; its
:meth:`ModelView.to_dict` is the JSON of ``/api/models/<id>`` and of ``driftline report --format json``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from driftline.config import (
    PERFORMANCE_FEATURE,
    PREDICTION_FEATURE,
    DriftAlert,
    RetrainTrigger,
    alert_key,
    split_key,
)
from driftline.detectors import CategoricalReference, ModelReference, PerformanceState, band_at, metrics
from driftline.streams import FeaturePoint, WindowPoint

TREND_POINTS = 30  # windows in a feature's small trend (the table's sparkline)
AlertState = Literal["firing", "resolved", "ok"]
_SEVERITY_RANK = {"critical": 0, "warning": 1}
_ALERT_RANK = {"firing": 0, "resolved": 1, "ok": 2}


def verdict_word(severity: str | None, has_data: bool = True) -> str:
    """The feature's state in one word: ``DRIFT``, ``warning``, ``ok`` or ``no data``.

    >>> verdict_word("critical"), verdict_word(None), verdict_word(None, has_data=False)
    ('DRIFT', 'ok', 'no data')
    """
    if not has_data:
        return "no data"
    return {"critical": "DRIFT", "warning": "warning"}.get(severity or "", "ok")


def bin_labels(reference: Any) -> list[str]:
    """Readable names of a feature's reference bins: open-ended outer bins, then the inner ranges.

    >>> from driftline.detectors.reference import FeatureReference
    >>> bin_labels(FeatureReference(edges=(0.0, 2.5), counts=(1, 1, 1)))
    ['< 0', '0 – 2.5', '≥ 2.5']
    >>> bin_labels(CategoricalReference(categories=("web",), counts=(3, 1)))
    ['web', 'other']
    """
    if isinstance(reference, CategoricalReference):
        return [*reference.categories, "other"]
    edges = [f"{e:.4g}" for e in reference.edges]
    if not edges:
        return ["all"]
    return [f"< {edges[0]}", *(f"{a} – {b}" for a, b in itertools.pairwise(edges)), f"≥ {edges[-1]}"]


@dataclass
class Series:
    """A feature's statistic per closed window, oldest first (``end``: epoch seconds of the window's end)."""

    end: list[float] = field(default_factory=list)
    statistic: list[float | None] = field(default_factory=list)
    threshold: list[float | None] = field(default_factory=list)
    severity: list[str | None] = field(default_factory=list)
    n: list[int] = field(default_factory=list)
    completeness: list[float | None] = field(default_factory=list)
    """Performance only: the share of the window's predictions whose label has joined."""


@dataclass
class AlertMark:
    """An alert on a feature's plot: at its window's end, at height ``y`` (its statistic; for performance,
    whose detectors' statistics are not error rates, the error rate of the window it came in)."""

    end: float
    state: str
    severity: str
    statistic: float
    detector: str
    y: float


@dataclass
class FeatureView:
    """One row of the feature table, and what the feature's own view draws."""

    key: str
    feature: str
    segment: str | None
    kind: str
    """``numeric``, ``categorical``, ``prediction`` (the model's score, or a probability map's top class) or
    ``performance`` (error rate)."""
    test: str | None
    statistic: float | None
    threshold: float | None
    p_value: float | None
    severity: str | None
    verdict: str
    alert: AlertState
    n_current: int
    n_reference: int
    window_end: float | None
    trend: list[float | None]
    bins: list[str]
    reference: list[float]
    current: list[float]
    series: Series
    alerts: list[AlertMark]

    @property
    def rank(self) -> tuple[Any, ...]:
        """Worst first: alert firing, then severity, then how far past its threshold the statistic is."""
        ratio = (self.statistic / self.threshold) if self.statistic is not None and self.threshold else -1.0
        return (_ALERT_RANK[self.alert], _SEVERITY_RANK.get(self.severity or "", 2), -ratio, self.key)


@dataclass
class ModelView:
    model_id: str
    reference_version: str | None
    since: float | None
    until: float | None
    windows: int
    first_start: float | None
    """Event time the oldest window shown starts and the newest ends (epoch seconds)."""
    last_end: float | None
    features: list[FeatureView]
    alerts: list[dict[str, Any]]
    triggers: list[dict[str, Any]]
    labels: dict[str, int]
    label_lag: dict[str, int] = field(default_factory=dict)
    """Joined labels per label-lag bin (``-``: labelled before the prediction's time, ``<edge>`` seconds, ``inf``)."""
    performance_metrics: dict[str, float] = field(default_factory=dict)
    """The newest labelled window's metrics (error rate, precision, recall, AUC, macro F1, MAE, RMSE: those its
    kind of model has)."""
    budget: dict[str, Any] = field(default_factory=dict)
    """What the fleet's false-alarm budget gives it, as its newest window recorded (docs/thresholds.md)."""

    def feature(self, key: str) -> FeatureView:
        return next(f for f in self.features if f.key == key)

    @property
    def drifted(self) -> list[str]:
        """The features whose latest window says DRIFT or whose alert fires."""
        return [f.key for f in self.features if f.verdict == "DRIFT" or f.alert == "firing"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _proportions(values: Sequence[float]) -> list[float]:
    total = float(sum(values))
    return [v / total for v in values] if total > 0 else [0.0 for _ in values]


def _kind(feature: str, reference: Any) -> str:
    if feature == PREDICTION_FEATURE:
        return "prediction"
    if feature == PERFORMANCE_FEATURE:
        return "performance"
    return "categorical" if isinstance(reference, CategoricalReference) else "numeric"


def alert_states(alerts: Iterable[DriftAlert], firing: Iterable[str]) -> dict[str, AlertState]:
    """Per feature key: ``firing`` when one of its alerts fires now (``firing`` holds the firing-alerts
    hash's ``feature|segment|detector`` fields), ``resolved`` when it has alerts in the history but none
    firing; features with neither are left out (``ok``).

    >>> dict(sorted(alert_states([], ["amount||psi", "country|region=eu|chi2"]).items()))
    {'amount': 'firing', 'country|region=eu': 'firing'}
    """
    now = {_firing_key(item) for item in firing}
    states: dict[str, AlertState] = {_alert_key(a): "resolved" for a in alerts}
    states.update(dict.fromkeys(now, "firing"))
    return states


def _firing_key(item: str) -> str:
    feature, segment, detector = [*item.split("|", 2), "", ""][:3]
    return alert_key(feature, segment or None, detector)


def _alert_key(alert: DriftAlert) -> str:
    if not alert.segment:
        return alert_key(alert.feature, None, alert.detector)
    (name, value), *_ = alert.segment.items()
    return alert_key(alert.feature, f"{name}={value}", alert.detector)


def build_model_view(
    model_id: str,
    reference: ModelReference | None,
    windows: Sequence[WindowPoint],
    alerts: Sequence[DriftAlert],
    triggers: Sequence[RetrainTrigger],
    firing: Iterable[str],
    *,
    performance: Mapping[int, Mapping[str, float]] | None = None,
    labels: Mapping[str, int] | None = None,
    judged: PerformanceState | None = None,
    label_lag: Mapping[str, int] | None = None,
    latest: Mapping[str, Mapping[str, Any]] | None = None,
    since: float | None = None,
    until: float | None = None,
) -> ModelView:
    """The view of one model from its history (``windows`` oldest first); features worst first.

    ``performance``: window id -> the performance counters (``n``, ``err``, ...) of the windows in
    ``windows``; ``judged``: the performance alert's state (its reference, whether it fires). ``latest``: each
    feature's last closed window as the worker keeps it apart from the history, for the features the
    history has nothing of.
    """
    firing = list(firing)
    states = alert_states(alerts, firing)
    keys = set(reference.features) if reference else set()
    for w in windows:
        keys |= set(w.features)
    latest = {k: v for k, v in (latest or {}).items() if "test" in v}  # not a baseline kept alone
    keys |= set(latest)
    features = [_feature_view(key, reference, windows, alerts, states, latest.get(key)) for key in sorted(keys)]
    # a data-quality signal's row shows when it has something to say: a verdict, or an alert now or before
    features = [f for f in features if "#" not in f.key or f.severity is not None or f.alert != "ok"]
    perf = _performance_view(windows, performance or {}, alerts, states, labels or {}, judged)
    if perf is not None:
        features.append(perf)
    features.sort(key=lambda f: f.rank)
    return ModelView(
        model_id=model_id,
        reference_version=reference.version if reference else None,
        since=since,
        until=until,
        windows=len(windows),
        first_start=windows[0].start if windows else None,
        last_end=windows[-1].end if windows else None,
        features=features,
        alerts=[_alert_dict(a) for a in sorted(alerts, key=lambda a: (a.window.end, a.feature))],
        triggers=[_trigger_dict(t) for t in sorted(triggers, key=lambda t: t.training_window.end)],
        labels=dict(labels or {}),
        label_lag=dict(label_lag or {}),
        performance_metrics=_newest_metrics(windows, performance or {}),
    )


def _newest_metrics(windows: Sequence[WindowPoint], performance: Mapping[int, Mapping[str, float]]) -> dict[str, float]:
    """The metrics of the newest window with joined labels (the model's, not a segment's).

    >>> _newest_metrics([WindowPoint(0, 0.0, 60.0)], {0: {"n": 4, "err": 1, "tp": 2, "fp": 1}})
    {'n': 4.0, 'error_rate': 0.25, 'accuracy': 0.75}
    """
    for w in reversed(windows):
        counts = {k: v for k, v in performance.get(w.window_id, {}).items() if "|" not in k}
        if counts.get("n"):
            m = metrics(counts)
            values = {"n": float(m.n), "error_rate": m.error_rate, "accuracy": m.accuracy, "precision": m.precision,
                      "recall": m.recall, "auc": m.auc, "auc_bound": m.auc_bound, "macro_f1": m.macro_f1,
                      "mae": m.mae, "rmse": m.rmse}
            return {k: float(v) for k, v in values.items() if v is not None}
    return {}


def lag_quantile(histogram: Mapping[str, int], q: float) -> str | None:
    """The label-lag bin holding quantile ``q`` of the joined labels, as text.

    >>> lag_quantile({"-": 1, "64": 6, "128": 3}, 0.5), lag_quantile({"64": 6, "inf": 4}, 0.95)
    ('≤ 64 s', 'over two years')
    >>> lag_quantile({"-": 5}, 0.5), lag_quantile({}, 0.5)
    ('before the prediction', None)
    """
    ordered = sorted(histogram.items(), key=lambda kv: -1.0 if kv[0] == "-" else float(kv[0]))
    total = sum(n for _, n in ordered)
    seen = 0
    for edge, n in ordered:
        seen += n
        if total and seen >= q * total:
            if edge in ("-", "inf"):
                return "before the prediction" if edge == "-" else "over two years"
            return f"≤ {_duration(float(edge))}"
    return None


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _feature_view(key: str, reference: ModelReference | None, windows: Sequence[WindowPoint],
                  alerts: Sequence[DriftAlert], states: Mapping[str, AlertState],
                  latest: Mapping[str, Any] | None = None) -> FeatureView:
    feature, segment, signal = split_key(key)
    feature_ref = reference.features.get(feature) if reference and signal is None else None
    series = Series()
    last: FeaturePoint | None = None
    for w in windows:
        point = w.features.get(key)
        if point is None:
            continue
        series.end.append(w.end)
        series.statistic.append(point.statistic)
        series.threshold.append(point.threshold)
        series.severity.append(point.severity)
        series.n.append(point.n)
        last = point
    if last is None and latest:  # no history kept (history_windows = 0): the last window's row still shows
        last = FeaturePoint(latest.get("test", "-"), latest.get("statistic"), latest.get("threshold"),
                            latest.get("p_value"), latest.get("severity"), int(latest.get("n_current", 0)), ())
        series = Series(end=[latest["window_end"]] if latest.get("window_end") else [])
    ref_counts = list(feature_ref.counts) if feature_ref is not None else []
    bins = bin_labels(feature_ref) if feature_ref is not None else []
    current = list(last.counts) if last is not None and last.counts else [0] * len(ref_counts)
    return FeatureView(
        key=key, feature=feature, segment=segment, kind=signal or _kind(feature, feature_ref),
        test=last.test if last else None, statistic=last.statistic if last else None,
        threshold=last.threshold if last else None, p_value=last.p_value if last else None,
        severity=last.severity if last else None,
        verdict=verdict_word(last.severity if last else None, last is not None),
        alert=states.get(key, "ok"), n_current=last.n if last else 0, n_reference=sum(ref_counts),
        window_end=series.end[-1] if series.end else None, trend=series.statistic[-TREND_POINTS:],
        bins=bins, reference=_proportions(ref_counts), current=_proportions(current), series=series,
        alerts=[_mark(a) for a in alerts if _alert_key(a) == key],
    )


def _performance_view(windows: Sequence[WindowPoint], performance: Mapping[int, Mapping[str, float]],
                      alerts: Sequence[DriftAlert], states: Mapping[str, AlertState],
                      labels: Mapping[str, int], judged: PerformanceState | None) -> FeatureView | None:
    """The joined labels' performance per window of predictions (error rate, or MAE for regression) against
    the reference's band at each window's n, with each window's label completeness."""
    if not labels.get("joined"):
        return None
    judged = judged or PerformanceState()
    reference = judged.reference or {}
    regression = "ae" in reference or (not reference and any("ae" in c for c in performance.values()))
    loss = "ae" if regression else "err"
    series = Series()
    for w in windows:
        counts = performance.get(w.window_id, {})
        n = int(counts.get("n", 0))
        if n and loss in counts:
            series.end.append(w.end)
            series.statistic.append(counts[loss] / n)
            series.threshold.append(band_at(reference, n, alpha=judged.alpha) if reference else None)
            series.severity.append(None)
            series.n.append(n)
            predicted = counts.get("predicted", 0.0)
            series.completeness.append(min(1.0, n / predicted) if predicted else None)
    marks = [_mark(a, series) for a in alerts if a.feature == PERFORMANCE_FEATURE]
    state: AlertState = "firing" if judged.firing else states.get(PERFORMANCE_FEATURE, "ok")
    n_ref = int(reference.get("n", 0))
    ref_value = reference[loss] / n_ref if n_ref and loss in reference else None
    last = series.statistic[-1] if series.statistic else None
    if regression:
        bins, ref_bars, current_bars = ["mean absolute error"], [ref_value or 0.0], [last or 0.0]
    else:
        bins = ["correct", "wrong"]
        ref_bars = [1 - ref_value, ref_value] if ref_value is not None else [0.0, 0.0]
        current_bars = [1 - last, last] if last is not None else [0.0, 0.0]
    return FeatureView(
        key=PERFORMANCE_FEATURE, feature=PERFORMANCE_FEATURE, segment=None, kind="performance",
        test="mae" if regression else "error_rate", statistic=last, threshold=series.threshold[-1] if series.threshold
        else None, p_value=None, severity="critical" if state == "firing" else None,
        verdict="DRIFT" if state == "firing" else "ok", alert=state, n_current=series.n[-1] if series.n else 0,
        n_reference=n_ref, window_end=series.end[-1] if series.end else None,
        trend=series.statistic[-TREND_POINTS:], bins=bins, reference=ref_bars, current=current_bars,
        series=series, alerts=marks,
    )


def _mark(alert: DriftAlert, on: Series | None = None) -> AlertMark:
    """``on``: place the mark on this series (the first window ending at or after the alert) instead of at
    the alert's statistic."""
    end = alert.window.end.timestamp()
    y = alert.statistic
    if on is not None and on.end:
        i = next((i for i, e in enumerate(on.end) if e >= end), len(on.end) - 1)
        on_y = on.statistic[i]
        y = on_y if on_y is not None else y
    return AlertMark(end=end, state=alert.state, severity=alert.severity, statistic=alert.statistic,
                     detector=alert.detector, y=y)


def _alert_dict(alert: DriftAlert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id, "feature": _alert_key(alert), "detector": alert.detector, "state": alert.state,
        "severity": alert.severity, "statistic": alert.statistic, "threshold": alert.threshold,
        "p_value": alert.p_value, "start": alert.window.start.timestamp(), "end": alert.window.end.timestamp(),
        "n_current": alert.n_current, "n_reference": alert.n_reference, "reference_version": alert.reference_version,
    }


def _trigger_dict(trigger: RetrainTrigger) -> dict[str, Any]:
    return {
        "trigger_id": trigger.trigger_id, "reason": trigger.reason, "policy": trigger.policy,
        "alert_ids": list(trigger.alert_ids), "evidence": dict(trigger.evidence),
        "start": trigger.training_window.start.timestamp(), "end": trigger.training_window.end.timestamp(),
    }
