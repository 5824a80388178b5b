"""Every online detector: pinned detection indices, exact save -> restore -> continue, and one contract."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from driftline.detectors.online import DETECTORS, OnlineDetector, OnlineVerdict, make_detector
from driftline.detectors.online.kswin import KSWINCore

CHANGE = 1000
ERROR_DETECTORS = {"ddm", "eddm", "hddm_a", "hddm_w"}
# KSWIN runs one KS test per value, so its per-test alpha must be small for a long stream: at 1e-4 it
# raised a false alarm at 836 of this stream's stable 1,000 values.
PARAMS: dict[str, dict[str, object]] = {"kswin": {"alpha": 1e-5, "seed": 1}, "page_hinkley": {"mode": "up"}}
NAMES = sorted(DETECTORS)

# Observed once on these seeded streams, then pinned; each lies after the change point.
GOLDEN = {
    "adwin": [1023],
    "page_hinkley": [1019],
    "kswin": [1018],
    "ddm": [1172],
    "eddm": [1090, 1182, 1245, 1326, 1405, 1490, 1607, 1692, 1986],
    "hddm_a": [1053],
    "hddm_w": [1053],
}
# The first warnings of the error-stream detectors on the same streams (DDM warns early: warnings are cheap).
FIRST_WARNINGS = {
    "ddm": [85, 86, 87], "eddm": [448, 449, 450], "hddm_a": [1049, 1051, 1052], "hddm_w": [1051, 1052, 1553],
}


def stream(name: str, seed: int = 42) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if name in ERROR_DETECTORS:  # error rate 10% -> 40%
        return np.r_[rng.random(CHANGE) < 0.1, rng.random(CHANGE) < 0.4].astype(np.float64)
    return np.r_[rng.normal(0, 1, CHANGE), rng.normal(2, 1, CHANGE)]  # mean shift of 2 sd


def fresh(name: str) -> OnlineDetector:
    return make_detector(name, **PARAMS.get(name, {}))


def drift_indices(detector: OnlineDetector, xs: np.ndarray) -> list[int]:
    return [v.index for v in detector.update_many(xs) if v.drift]


@pytest.mark.parametrize("name", NAMES)
def test_golden_detection_indices(name: str) -> None:
    found = drift_indices(fresh(name), stream(name))
    assert found == GOLDEN[name]
    assert found and all(i >= CHANGE for i in found)  # sane: detections only after the change


@pytest.mark.parametrize("name", sorted(FIRST_WARNINGS))
def test_golden_warning_indices(name: str) -> None:
    warnings = [v.index for v in fresh(name).update_many(stream(name)) if v.warning]
    assert warnings[:3] == FIRST_WARNINGS[name]


@pytest.mark.parametrize("name", NAMES)
def test_save_restore_continue_gives_the_same_verdicts(name: str) -> None:
    xs = stream(name)
    expected = fresh(name).update_many(xs)
    first_drift = next(v.index for v in expected if v.drift)
    for cut in [0, 1, 500, CHANGE, first_drift, first_drift + 1, len(xs) - 1]:  # first_drift + 1: right after
        d = fresh(name)
        before = d.update_many(xs[:cut])
        data = d.to_bytes()
        restored = OnlineDetector.from_bytes(data)
        assert type(restored) is type(d) and restored.n_seen == cut and restored.params == d.params
        assert restored.get_state() == d.get_state() and restored.to_bytes() == data
        assert before + restored.update_many(xs[cut:]) == expected, f"cut at {cut}"


@pytest.mark.parametrize("name", NAMES)
def test_restore_mid_warning_continues_exactly(name: str) -> None:
    xs = stream(name)
    expected = fresh(name).update_many(xs)
    for cut in [v.index + 1 for v in expected if v.warning][:5]:
        d = fresh(name)
        before = d.update_many(xs[:cut])
        assert before + OnlineDetector.from_bytes(d.to_bytes()).update_many(xs[cut:]) == expected


@pytest.mark.parametrize("name", NAMES)
def test_update_returns_a_frozen_typed_verdict_and_counts(name: str) -> None:
    d = fresh(name)
    verdicts = [d.update(x) for x in stream(name)[:200]]
    assert [v.index for v in verdicts] == list(range(200)) and d.n_seen == 200
    for v in verdicts:
        assert isinstance(v, OnlineVerdict) and v.detector == name
        assert type(v.drift) is bool and type(v.warning) is bool
        assert v.statistic is None or type(v.statistic) is float
        assert v.p_value is None or 0.0 <= v.p_value <= 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdicts[0].drift = True  # type: ignore[misc]


@pytest.mark.parametrize("name", NAMES)
def test_update_many_equals_one_by_one(name: str) -> None:
    xs = stream(name)
    one_by_one = [v for v in map(fresh(name).update, xs) if v.drift or v.warning]
    assert fresh(name).update_many(xs) == one_by_one
    assert any(v.drift for v in one_by_one)


@pytest.mark.parametrize("name", NAMES)
def test_update_many_in_chunks_equals_one_batch(name: str) -> None:
    xs = stream(name)
    d = fresh(name)
    chunked = [v for chunk in np.array_split(xs, 37) for v in d.update_many(chunk)]
    assert chunked == fresh(name).update_many(xs)


@pytest.mark.parametrize("name", NAMES)
def test_reset_is_explicit_on_the_drifting_update(name: str) -> None:
    d = fresh(name)
    xs = stream(name)
    verdicts = [d.update(x) for x in xs[: GOLDEN[name][0] + 1]]
    assert verdicts[-1].drift and not any(v.drift for v in verdicts[:-1])
    after = d.get_state()  # before any further value
    if name == "kswin":  # keeps the newest stat_size values, as the algorithm intends
        assert after["window"] == [float(x) for x in xs[GOLDEN[name][0] + 1 - 30 : GOLDEN[name][0] + 1]]
    else:
        assert after == fresh(name).get_state()
    assert d.n_seen == GOLDEN[name][0] + 1  # indices keep counting across the reset


@pytest.mark.parametrize("name", NAMES)
def test_reset_starts_over_but_keeps_counting(name: str) -> None:
    d = fresh(name)
    d.update_many(stream(name)[:300])
    d.reset()
    assert d.get_state() == fresh(name).get_state()  # kswin included: an empty window, its RNG re-seeded
    assert d.update(0.0).index == 300


@pytest.mark.parametrize("name", NAMES)
def test_declared_state_fields_are_exactly_what_river_keeps(name: str) -> None:
    river_obj = fresh(name)._river
    if isinstance(river_obj, KSWINCore):
        assert set(river_obj.get_state()) == set(DETECTORS[name].STATE_FIELDS)
        return
    params = set(inspect.signature(type(river_obj)).parameters)
    assert set(vars(river_obj)) - params - DETECTORS[name].TRANSIENT == set(DETECTORS[name].STATE_FIELDS)


@pytest.mark.parametrize("name", NAMES)
def test_state_stays_bounded_on_a_long_stream(name: str) -> None:
    d = fresh(name)
    rng = np.random.default_rng(3)
    n = 3_000 if name == "kswin" else 100_000  # kswin: one KS test per value
    xs = (rng.random(n) < 0.2).astype(float) if name in ERROR_DETECTORS else rng.normal(size=n)
    d.update_many(xs[:1000])
    small = len(d.to_bytes())
    d.update_many(xs[1000:])
    assert len(d.to_bytes()) < 2 * small + 1024  # ADWIN grows with log(n); the others not at all


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_batch_is_rejected_whole_and_leaves_the_state_alone(name: str) -> None:
    d = fresh(name)
    d.update_many(stream(name)[:100])
    before = d.to_bytes()
    bad = np.r_[stream(name)[:10], 0.5 if name in ERROR_DETECTORS else np.nan]
    with pytest.raises(ValueError, match="0/1" if name in ERROR_DETECTORS else "finite"):
        d.update_many(bad)
    with pytest.raises(ValueError):
        d.update(float("inf"))
    assert d.to_bytes() == before


def test_unknown_detector_or_parameter_names_the_choices() -> None:
    with pytest.raises(ValueError, match="choose from adwin"):
        make_detector("cusum")
    with pytest.raises(ValueError, match="bad parameters for adwin"):
        make_detector("adwin", window=3)


def test_kswin_thresholds_are_parameters() -> None:
    xs = stream("kswin")
    strict = make_detector("kswin", alpha=1e-5, seed=1, min_statistic=0.9)
    assert drift_indices(strict, xs) == []  # the KS statistic never reaches 0.9 here
    with pytest.raises(ValueError, match="stat_size"):
        make_detector("kswin", window_size=50, stat_size=30)
