"""Window checks as the worker runs them: spec-chosen tests on binned counts, gated, decided."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftline.config.monitor_spec import ModelSpec
from driftline.detectors.reference import ModelReference
from driftline.detectors.stats.binned import binned_ks, binned_wasserstein
from driftline.detectors.window_compare import compare_window

RNG = np.random.default_rng(5)
REF_X = RNG.normal(0, 1, 20_000)
REFERENCE = ModelReference.build(
    "m", "v1", {"x": REF_X, "y": RNG.normal(0, 1, 20_000)}, n_bins=10,
    categorical={"c": RNG.choice(["a", "b", "c"], 20_000, p=[0.6, 0.3, 0.1]).tolist()},
)


def counts_of(name: str, values: object) -> dict[str, int]:
    feature = REFERENCE.features[name]
    if feature.kind == "categorical":
        bins = feature.bin_indices(list(values))  # type: ignore[call-overload]
    else:
        bins = np.searchsorted(np.asarray(feature.edges), np.asarray(values), side="right")
    return {str(b): int(n) for b, n in enumerate(np.bincount(bins, minlength=feature.n_bins)) if n}


def spec(**thresholds: object) -> ModelSpec:
    return ModelSpec.model_validate({
        "features": {"x": {"kind": "numeric"}, "y": {"kind": "numeric"}, "c": {"kind": "categorical"}},
        "thresholds": thresholds,
    })


def test_only_the_shifted_features_drift() -> None:
    window = {
        "x": counts_of("x", RNG.normal(0.8, 1, 2000)),
        "y": counts_of("y", RNG.normal(0, 1, 2000)),
        "c": counts_of("c", RNG.choice(["a", "b", "c"], 2000, p=[0.3, 0.3, 0.4])),
    }
    results = {r.feature: r for r in compare_window(REFERENCE, spec(), window)}
    assert {f: r.severity for f, r in results.items()} == {"x": "critical", "y": None, "c": "critical"}
    assert results["x"].gate is not None and results["x"].gate.test == "ks"
    assert results["c"].gate is not None and results["c"].gate.test == "chi_square"


def test_too_few_samples_never_drift_whatever_the_effect() -> None:
    window = {"x": counts_of("x", RNG.normal(3, 1, 50))}
    (result,) = compare_window(REFERENCE, spec(min_samples=200), window)
    assert result.verdict.statistic > 1.0 and result.severity is None


def test_thresholds_come_from_the_spec() -> None:
    window = {"x": counts_of("x", RNG.normal(0.7, 1, 1000))}  # PSI ~0.46, Wasserstein/IQR ~0.4
    (default,) = compare_window(REFERENCE, spec(), window)
    (banded,) = compare_window(REFERENCE, spec(bands={"psi": 0.8, "wasserstein": 0.8}), window)
    (floored,) = compare_window(REFERENCE, spec(floors={"psi": 0.8, "wasserstein": 0.8}), window)
    (fixed,) = compare_window(REFERENCE, spec(mode="fixed", psi_warning=0.8, psi_critical=0.9, wasserstein=5.0),
                              window)
    assert (default.severity, banded.severity, floored.severity, fixed.severity) == (
        "critical", "warning", None, None)
    assert (default.rule_for("critical"), banded.rule_for("warning"), fixed.rule_for("critical")) == (
        "band", "calibrated", "fixed")


@pytest.mark.parametrize(("shift", "severity"), [(0.0, None), (0.15, "warning"), (0.3, "warning"), (0.6, "critical")])
def test_a_shift_reads_its_severity_at_3000_events_on_every_effect_test(shift: float, severity: str | None) -> None:
    """The floors and bands are one shift's size on every test: 0.1 sd alerts, 0.5 sd is critical."""
    rng = np.random.default_rng(int(shift * 100))
    window = {"x": counts_of("x", rng.normal(shift, 1, 3000))}
    for test in ("psi", "jensen_shannon", "hellinger", "wasserstein"):
        only = ModelSpec.model_validate({"features": {"x": {"kind": "numeric", "tests": [test, "ks"]}},
                                         "infer": False})
        (result,) = compare_window(REFERENCE, only, window)
        assert (test, result.severity) == (test, severity)


def test_a_huge_window_alerts_only_beyond_the_floor() -> None:
    rng = np.random.default_rng(3)
    small = {"x": counts_of("x", rng.normal(0.05, 1, 200_000))}  # significant, but PSI ~0.003
    (result,) = compare_window(REFERENCE, spec(), small)
    assert result.gate is not None and result.gate.p_value is not None and result.gate.p_value < 0.01
    assert result.severity is None and result.rule_for("warning") == "floor"


def test_constants_without_the_fixed_mode_are_refused() -> None:
    with pytest.raises(ValueError, match="psi_warning apply to mode = 'fixed'"):
        spec(psi_warning=0.05)


def test_a_feature_without_values_in_the_window_is_not_judged() -> None:
    assert compare_window(REFERENCE, spec(), {"y": {"null": 40}}) == []


@pytest.mark.parametrize("shift", [0.0, 0.3, 1.0])
def test_binned_ks_and_wasserstein_stay_close_to_the_exact_ones(shift: float) -> None:
    current = RNG.normal(shift, 1, 5000)
    feature = REFERENCE.features["x"]
    cur = np.bincount(np.searchsorted(np.asarray(feature.edges), current, side="right"), minlength=feature.n_bins)
    d, _ = binned_ks(feature.counts, cur)
    exact_d = stats.ks_2samp(REF_X, current).statistic
    assert d <= exact_d + 1e-9  # the binned D is a lower bound (CDFs compared at the edges only)
    assert d >= exact_d - 0.1  # ... and with decile bins at most one bin's mass below it
    iqr = np.subtract(*np.percentile(REF_X, [75, 25]))
    exact_w = stats.wasserstein_distance(REF_X, current) / iqr
    binned_w = binned_wasserstein(feature.edges, feature.counts, cur)
    # Conservative too: mass moving inside a bin or beyond the outer edges is unseen.
    assert exact_w - 0.2 <= binned_w <= exact_w + 0.02


def test_segments_are_judged_apart_from_the_whole() -> None:
    from datetime import UTC, datetime

    from driftline.detectors.alerts import window_alerts
    from driftline.detectors.policies.alert_policy import AlertPolicy

    eu = counts_of("x", RNG.normal(1.0, 1, 1000))  # drifted, but only in one segment
    us = counts_of("x", RNG.normal(0, 1, 5000))
    whole = {b: eu.get(b, 0) + us.get(b, 0) for b in set(eu) | set(us)}
    window = {"x": whole, "x|region=eu": eu, "x|region=us": us}
    results = {r.key: r for r in compare_window(REFERENCE, spec(), window)}
    assert set(results) == {"x", "x|region=eu", "x|region=us"}
    assert results["x|region=eu"].severity == "critical" and results["x|region=us"].severity is None
    assert results["x|region=eu"].feature == "x" and results["x|region=eu"].segment == "region=eu"
    t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    states, alerts = window_alerts(REFERENCE, list(results.values()), {}, AlertPolicy(), start=t0, end=t1)
    segment_alerts = [a for a in alerts if a.segment is not None]
    assert [(a.feature, a.segment) for a in segment_alerts] == [("x", {"region": "eu"})]
    assert "x|region=eu" in states and states["x|region=eu"].firing


def test_calibrated_thresholds_follow_the_window_size_and_hold_the_false_alarm_rate() -> None:
    from driftline.detectors.calibration import window_threshold

    calibrated = ModelSpec.model_validate({  # PSI alone, held against the calibrated value alone
        "features": {"y": {"kind": "numeric", "tests": ["psi"]}}, "infer": False,
        "thresholds": {"ert_windows": 200, "floors": {"psi": 1e-6}}})
    feature = REFERENCE.features["y"]
    small = window_threshold("psi", feature.counts, window_size=300, ert_windows=200)
    large = window_threshold("psi", feature.counts, window_size=30_000, ert_windows=200)
    assert small > 5 * large  # the noise of PSI shrinks as 1/n + 1/m
    rng = np.random.default_rng(11)
    fired = 0
    for _ in range(2000):  # windows without drift: drawn from the distribution the reference was drawn from
        window = {"y": counts_of("y", rng.normal(0, 1, 3000))}
        (result,) = [r for r in compare_window(REFERENCE, calibrated, window) if r.feature == "y"]
        fired += result.verdict.statistic >= result.threshold_for("warning")
    assert 2 <= fired <= 25  # about 2000 / 200 = 10 exceedances of the effect threshold


def test_the_signal_detectors_the_config_knows_are_the_ones_the_detectors_compute() -> None:
    from driftline.config import SIGNAL_DETECTORS
    from driftline.detectors import SIGNALS
    from driftline.detectors.volume import VOLUME

    assert {*SIGNALS, VOLUME} == SIGNAL_DETECTORS


def test_a_trickle_of_a_value_the_reference_never_saw_does_not_move_chi_square() -> None:
    """2 of 2,000 values are new ("kiosk", pooled in the reference's empty __other__): the `unseen` signal's to
    judge; chi-square on the known categories sees the same mix."""
    ref = REFERENCE.features["c"]
    values = [name for name, count in zip(ref.labels, ref.counts, strict=False)  # the reference's mix, 1,998 of it
              for _ in range(round(count * 1998 / sum(ref.counts)))] + ["kiosk", "kiosk"]
    rng = np.random.default_rng(8)
    only = ModelSpec.model_validate({"features": {"c": {"kind": "categorical", "tests": ["chi_square"]}},
                                     "infer": False})
    (result,) = compare_window(REFERENCE, only, {"c": counts_of("c", values)})
    assert ref.counts[-1] == 0  # the reference's __other__ is empty
    assert result.p_value is not None and result.p_value > 0.01 and result.severity is None
    shifted = [*rng.choice(["a", "b", "c"], 2000, p=[0.4, 0.4, 0.2]).tolist()]  # a real mix change still fires
    (moved,) = compare_window(REFERENCE, only, {"c": counts_of("c", shifted)})
    assert moved.severity == "critical"
