"""Calibration on seeded simulations: the false-alarm target holds, and real drift is caught fast."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.detectors.calibration import calibrate
from driftline.detectors.gating import (
    DecisionRule,
    FeatureEvidence,
    benjamini_hochberg,
    bonferroni,
    decide,
)
from driftline.detectors.sketches import NumericHistogram
from driftline.detectors.stats import WindowVerdict, psi

ERT, WINDOW = 200, 200


def run_lengths(threshold: float, reference: NumericHistogram, rng: np.random.Generator, *, shift: float,
                runs: int, cap: int) -> np.ndarray:
    """Windows until the first alarm, per run, for fresh data from N(shift, 1)."""
    lengths = np.full(runs, cap)
    for r in range(runs):
        for start in range(0, cap, 500):
            rows = min(500, cap - start)
            bins = np.searchsorted(reference.edges, rng.normal(shift, 1.0, size=(rows, WINDOW)), side="right")
            counts = np.zeros((rows, reference.counts.size), dtype=np.int64)
            np.add.at(counts, (np.repeat(np.arange(rows), WINDOW), bins.ravel()), 1)
            alarms = np.nonzero([psi(reference.counts, row) >= threshold for row in counts])[0]
            if alarms.size:
                lengths[r] = start + int(alarms[0]) + 1
                break
    return lengths


@pytest.fixture(scope="module")
def calibrated() -> tuple[float, NumericHistogram]:
    rng = np.random.default_rng(2026)
    sample = rng.normal(0.0, 1.0, 50_000)
    t = calibrate(sample, window_size=WINDOW, ert_windows=ERT, rng=rng)
    return t.threshold, NumericHistogram.from_reference(sample, n_bins=10)


def test_no_drift_average_run_length_is_within_a_factor_3_of_the_target(
    calibrated: tuple[float, NumericHistogram],
) -> None:
    threshold, reference = calibrated
    arl = run_lengths(threshold, reference, np.random.default_rng(7), shift=0.0, runs=40, cap=10 * ERT).mean()
    assert ERT / 3 <= arl <= 3 * ERT, arl


def test_half_sd_mean_shift_is_detected_within_two_windows(calibrated: tuple[float, NumericHistogram]) -> None:
    # Stated bound: with windows of 200 values, a 0.5-sd shift is flagged within 2 windows on
    # average and never later than 5.
    threshold, reference = calibrated
    delays = run_lengths(threshold, reference, np.random.default_rng(8), shift=0.5, runs=200, cap=50)
    assert delays.mean() <= 2.0 and delays.max() <= 5, (delays.mean(), delays.max())


def test_a_bigger_target_gives_a_higher_threshold() -> None:
    sample = np.random.default_rng(1).normal(size=20_000)
    low = calibrate(sample, window_size=WINDOW, ert_windows=20, rng=np.random.default_rng(2)).threshold
    high = calibrate(sample, window_size=WINDOW, ert_windows=500, rng=np.random.default_rng(2)).threshold
    assert high > low


def test_multiple_testing_corrections() -> None:
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    assert bonferroni(p, 0.05) == [True] + [False] * 9
    assert benjamini_hochberg(p, 0.05) == [True, True] + [False] * 8
    assert benjamini_hochberg([0.04, 0.01, 0.03], 0.05) == [True, True, True]  # step-up, any order


def verdict(statistic: float, *, n: int = 5000, p: float | None = None, test: str = "psi") -> WindowVerdict:
    return WindowVerdict(test, statistic, 0.25, 20_000, n, drift=statistic >= 0.25, warning=statistic >= 0.1,
                         p_value=p)


def test_decision_needs_effect_gate_and_samples() -> None:
    evidence = [
        FeatureEvidence("big_and_significant", verdict(0.5), verdict(0.3, p=1e-12, test="ks")),
        FeatureEvidence("significant_but_trivial", verdict(0.01), verdict(0.02, p=1e-6, test="ks")),
        FeatureEvidence("big_but_noise", verdict(0.5), verdict(0.02, p=0.3, test="ks")),
        FeatureEvidence("too_few", verdict(0.9, n=50), verdict(0.5, p=1e-9, test="ks")),
        FeatureEvidence("ungated_big", verdict(0.5)),
    ]
    out = decide(evidence, DecisionRule(min_samples=200))
    assert {f for f, v in out.items() if v.drift} == {"big_and_significant", "ungated_big"}
    assert not out["too_few"].warning
