"""Policies, continued: escalation detail, severity bands, online windows, state bytes, retrain evidence rules."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftline.config.events import PERFORMANCE_FEATURE, PREDICTION_FEATURE
from driftline.detectors.ids import trigger_id
from driftline.detectors.online import make_detector
from driftline.detectors.policies import (
    AlertPolicy,
    AlertState,
    FiringAlert,
    Observation,
    PolicyStateError,
    RetrainPolicy,
    RetrainState,
    SeverityBands,
    Transition,
    evaluate,
    online_observation,
    step,
)
from driftline.detectors.policies.codec import dump

C, W = "critical", "warning"


def run(policy: AlertPolicy, observations: list[Observation], every: float = 60.0) -> list[Transition | None]:
    state, out = AlertState(), []
    for i, obs in enumerate(observations):
        state, t = step(policy, state, obs, now=i * every)
        out.append(t)
    return out


def test_an_escalation_says_what_it_escalated_from_and_a_first_firing_does_not() -> None:
    out = run(AlertPolicy(), [Observation(W, 500, 0.15), Observation(C, 500, 0.4)])
    assert out[0] is not None and (out[0].severity, out[0].escalated_from) == (W, None)
    assert out[1] is not None and (out[1].state, out[1].severity, out[1].escalated_from) == ("firing", C, W)
    assert out[1].onset == 0.0  # the alert's drift still began at the first window


def test_severity_bands_both_directions() -> None:
    psi = SeverityBands(0.1, 0.25)
    assert [psi.classify(x) for x in (0.0999, 0.1, 0.2499, 0.25, float("nan"))] == [None, W, W, C, None]
    p_value = SeverityBands(0.05, 0.001, higher_is_worse=False)
    assert [p_value.classify(x) for x in (0.2, 0.05, 0.01, 0.001, 0.0)] == [None, W, W, C, C]
    with pytest.raises(ValueError, match="beyond"):
        SeverityBands(0.25, 0.1)


def test_online_detector_windows_through_the_alert_policy_fire_once_then_resolve() -> None:
    rng = np.random.default_rng(42)
    errors = np.r_[rng.random(2000) < 0.1, rng.random(600) < 0.4, rng.random(3000) < 0.1].astype(float)
    detector, policy = make_detector("hddm_a"), AlertPolicy(fire_after=1, resolve_after=3, min_samples=100)
    observations = [online_observation(detector.update_many(w), len(w)) for w in np.split(errors, 28)]  # 200 each
    transitions = [(i, t.state, t.severity) for i, t in enumerate(run(policy, observations)) if t]
    # Errors rise in windows 10-12. A sequential detector reports the change once (then re-learns the new
    # level), so the alert fires on window 10 and resolves after resolve_after=3 windows without a new change.
    assert transitions == [(10, "firing", C), (13, "resolved", C)]


def test_online_observation_takes_the_worst_verdict() -> None:
    from driftline.detectors.online import OnlineVerdict

    verdicts = [OnlineVerdict("ddm", 1, False, True, 0.2), OnlineVerdict("ddm", 2, True, False, 0.3),
                OnlineVerdict("ddm", 3, False, True, 0.1)]
    assert online_observation(verdicts, 50) == Observation(C, 50, 0.3)


severities = st.sampled_from([C, W, None])


@given(st.lists(st.tuples(severities, st.sampled_from([5, 500])), max_size=30), st.integers(1, 3), st.integers(1, 3))
def test_alert_state_bytes_round_trip_at_every_step(obs: list[tuple[str | None, int]], k: int, m: int) -> None:
    policy = AlertPolicy(fire_after=k, resolve_after=m, cooldown_seconds=90, min_samples=100)
    state = AlertState()
    for i, (sev, n) in enumerate(obs):
        state, _ = step(policy, state, Observation(sev, n, 0.3), now=60.0 * i)  # type: ignore[arg-type]
        assert AlertState.from_bytes(state.to_bytes()) == state


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00garbage", "not JSON"),
        (b"[]", "kind, version and data"),
        (dump("alert_state", 2, {}), "version 2 is not supported"),
        (dump("retrain_state", 1, {}), "expected a alert_state"),
        (dump("alert_state", 1, {"firing": True, "severity": None}), "firing=True with severity=None"),
        (dump("alert_state", 1, {"firing": False, "severity": "fatal"}), "severity='fatal'"),
        (dump("alert_state", 1, {"clean_streak": "2"}), "clean_streak='2'"),
        (dump("alert_state", 1, {"clean_streak": True}), "clean_streak=True"),
        (dump("alert_state", 1, {"drifting_streak": -1}), ">= 0"),
        (dump("alert_state", 1, {"armed": True}), "unknown fields"),
    ],
)
def test_bad_alert_state_bytes_are_refused_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(PolicyStateError, match=reason):
        AlertState.from_bytes(raw)


def test_retrain_state_bytes_round_trip_and_older_dicts_still_load() -> None:
    state = RetrainState((10.0, 20.0), ("a", "b"))
    assert RetrainState.from_bytes(state.to_bytes()) == state
    assert RetrainState.from_dict({"trigger_times": [1.0]}) == RetrainState((1.0,))
    with pytest.raises(PolicyStateError, match="finite"):
        RetrainState.from_dict({"trigger_times": [float("inf")]})


def alert(aid: str, feature: str, severity: str = C, since: float = 1000.0) -> FiringAlert:
    return FiringAlert(aid, feature, severity, since, 0.5)


def test_the_same_evidence_does_not_trigger_twice_but_new_evidence_does() -> None:
    policy = RetrainPolicy(min_interval_seconds=0, max_per_day=10)
    state, first = evaluate(policy, RetrainState(), [alert("a", "x"), alert("b", "y")], now=2000.0)
    assert first is not None and state.last_alert_ids == ("a", "b")
    assert evaluate(policy, state, [alert("a", "x"), alert("b", "y")], now=3000.0)[1] is None
    _, second = evaluate(policy, state, [alert("a", "x"), alert("b", "y"), alert("c", "z")], now=3000.0)
    assert second is not None and second.alert_ids == ("a", "b", "c")
    assert second.trigger_id("m") != first.trigger_id("m")


def test_a_consumed_strong_rule_gives_way_to_a_rule_with_new_evidence() -> None:
    policy = RetrainPolicy(min_interval_seconds=0, max_per_day=10)
    state, first = evaluate(policy, RetrainState(), [alert("p", PERFORMANCE_FEATURE)], now=2000.0)
    assert first is not None and first.rule == "performance"
    _, second = evaluate(policy, state, [alert("p", PERFORMANCE_FEATURE), alert("q", PREDICTION_FEATURE)], now=2100.0)
    assert second is not None and (second.rule, second.alert_ids) == ("prediction_drift", ("q",))


def test_alerts_must_have_fired_for_the_minimum_time() -> None:
    policy = RetrainPolicy(min_firing_seconds=600)
    alerts = [alert("a", "x", since=1000.0), alert("b", "y", since=1500.0)]
    assert evaluate(policy, RetrainState(), alerts, now=1700.0)[1] is None  # b fired 200 s ago: too fresh
    assert evaluate(policy, RetrainState(), alerts, now=2100.0)[1] is not None


def test_decision_trigger_id_is_the_ids_module_id() -> None:
    _, decision = evaluate(RetrainPolicy(), RetrainState(), [alert("b", "y"), alert("a", "x")], now=2000.0)
    assert decision is not None
    assert decision.trigger_id("m") == trigger_id(model_id="m", rule=decision.rule, alert_ids=["a", "b"])


@given(st.lists(st.floats(1.0, 20_000.0), min_size=1, max_size=40), st.integers(1, 3), st.sampled_from([0.0, 3600.0]))
def test_rate_limits_hold_for_any_schedule(gaps: list[float], cap: int, interval: float) -> None:
    policy = RetrainPolicy(min_interval_seconds=interval, max_per_day=cap)
    state, now, fired = RetrainState(), 0.0, []
    for i, gap in enumerate(gaps):
        now += gap
        alerts = [alert(f"a{i}", "x", since=0.0), alert(f"b{i}", "y", since=0.0)]  # always new evidence
        state, decision = evaluate(policy, state, alerts, now=now)
        if decision is not None:
            fired.append(now)
        assert len(state.trigger_times) <= cap  # bounded state
    assert all(b - a >= interval for a, b in itertools.pairwise(fired))
    assert all(sum(1 for t in fired if s <= t < s + 86_400) <= cap for s in fired)
    assert fired[0] == gaps[0]  # the first evaluation with strong evidence always triggers
