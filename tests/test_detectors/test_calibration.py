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


def _brute_force(test: str, counts: tuple[int, ...], n: int, ert: float, edges: tuple[float, ...] = ()) -> float:
    """The quantile from 400,000 windows drawn from resampled references (the slow, obvious way)."""
    from driftline.detectors.calibration import _row_statistics, _row_wasserstein

    rng = np.random.default_rng(5)
    ref = np.asarray(counts, dtype=np.float64)
    p = ref / ref.sum()
    values = []
    for _ in range(8):
        truth = rng.multinomial(int(ref.sum()), p, size=50_000) / ref.sum()
        windows = rng.multinomial(n, truth) / n
        values.append(_row_statistics(test, p, windows) if test != "wasserstein"
                      else _row_wasserstein(p, windows, edges))
    return float(np.quantile(np.concatenate(values), 1 - 1 / ert))


DECILE_EDGES = (-1.2816, -0.8416, -0.5244, -0.2533, 0.0, 0.2533, 0.5244, 0.8416, 1.2816)


@pytest.mark.parametrize(("test", "counts", "n"), [
    ("psi", (2000,) * 10, 3000),  # asymptotic
    ("psi", (2000,) * 10, 30_000),
    ("jensen_shannon", (2000,) * 10, 1000),
    ("hellinger", (2000,) * 10, 1000),
    ("wasserstein", (2000,) * 10, 1000),
    ("psi", (19_400, 600), 200),  # a 3 % flag in a small window: bootstrapped
    ("psi", (6000, 4000, 3000, 2000, 2000, 1400, 1000, 600), 500),  # an uneven code
    ("wasserstein", (2000,) * 10, 200),
])
def test_the_calibrated_threshold_is_the_no_drift_quantile(test: str, counts: tuple[int, ...], n: int) -> None:
    from driftline.detectors.calibration import window_threshold

    edges = DECILE_EDGES if test == "wasserstein" else ()
    ours = window_threshold(test, counts, window_size=n, ert_windows=1000, edges=edges)
    assert ours == pytest.approx(_brute_force(test, counts, n, 1000, edges), rel=0.08)


def test_beyond_the_bootstrap_the_tail_is_extrapolated_and_errs_high() -> None:
    from driftline.detectors.calibration import window_threshold

    counts = (6000, 4000, 3000, 2000, 2000, 1400, 1000, 600)  # 8 bins, 500 events: bootstrapped
    at = {ert: window_threshold("psi", counts, window_size=500, ert_windows=ert) for ert in (1e3, 1e4, 1e5, 1e6)}
    assert at[1e3] < at[1e4] < at[1e5] < at[1e6] < 3 * at[1e3]
    # the asymptotic law at these counts is close: the extrapolation stays within a third of it
    from scipy import stats

    asymptotic = stats.chi2.ppf(1 - 1e-5, 7) * (1 / 500 + 1 / sum(counts))
    assert asymptotic * 0.9 <= at[1e5] <= asymptotic * 1.35


def test_one_bin_cannot_move_and_a_test_that_needs_edges_says_so() -> None:
    from driftline.detectors.calibration import window_threshold

    assert window_threshold("psi", (1000, 0), window_size=500, ert_windows=100) == 0.0
    with pytest.raises(ValueError, match="wasserstein needs the reference's edges"):
        window_threshold("wasserstein", (10, 10), window_size=500, ert_windows=100)
    with pytest.raises(ValueError, match="cannot calibrate 'ks'"):
        window_threshold("ks", (10, 10), window_size=500, ert_windows=100)
