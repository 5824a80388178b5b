"""Alert and retrain policies: hysteresis, min samples, dedup, escalation, cooldown, rate limits, ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftline.config.events import PERFORMANCE_FEATURE, PREDICTION_FEATURE
from driftline.detectors.ids import alert_id, trigger_id
from driftline.detectors.policies import (
    AlertPolicy,
    AlertState,
    FiringAlert,
    Observation,
    RetrainPolicy,
    RetrainState,
    evaluate,
    step,
)


def run(policy: AlertPolicy, severities: list[str | None], n: int = 500, start: float = 0.0,
        every: float = 60.0) -> list[tuple[str, str] | None]:
    state, out = AlertState(), []
    for i, sev in enumerate(severities):
        state, t = step(policy, state, Observation(sev, n, 0.3), now=start + i * every)  # type: ignore[arg-type]
        out.append((t.state, t.severity) if t else None)
    return out


C, W = "critical", "warning"


def test_fires_after_k_consecutive_drifting_windows_only() -> None:
    assert run(AlertPolicy(fire_after=3), [C, C, None, C, C, C]) == [None] * 5 + [("firing", C)]


def test_firing_is_not_repeated_and_resolves_after_m_clean_windows() -> None:
    out = run(AlertPolicy(fire_after=1, resolve_after=2), [C, C, C, None, C, None, None, None])
    assert out == [("firing", C), None, None, None, None, None, ("resolved", C), None]


def test_escalation_warning_to_critical_is_a_new_transition_but_not_back() -> None:
    out = run(AlertPolicy(), [W, W, C, C, W])
    assert out == [("firing", W), None, ("firing", C), None, None]


def test_small_windows_count_neither_way() -> None:
    policy = AlertPolicy(fire_after=2, resolve_after=1, min_samples=100)
    state = AlertState()
    state, t1 = step(policy, state, Observation(C, 500, 0.5), now=0)
    state, t2 = step(policy, state, Observation(None, 10, 0.0), now=60)  # too small: ignored
    state, t3 = step(policy, state, Observation(C, 500, 0.5), now=120)
    assert (t1, t2) == (None, None) and t3 is not None and t3.state == "firing"
    assert t3.onset == 0  # the streak began at the first drifting window


def test_cooldown_blocks_a_new_firing_until_it_has_passed() -> None:
    policy = AlertPolicy(fire_after=1, resolve_after=1, cooldown_seconds=300)
    out = run(policy, [C, None, C, C, C, C, C, C], every=60)
    # resolved at t=60; t=120..300 are within 300 s; t=360 fires again.
    assert out == [("firing", C), ("resolved", C), None, None, None, None, ("firing", C), None]


@given(st.lists(st.sampled_from([C, W, None]), max_size=30), st.integers(1, 3), st.integers(1, 3))
def test_state_round_trips_through_plain_data_at_every_step(sevs: list[str | None], k: int, m: int) -> None:
    policy = AlertPolicy(fire_after=k, resolve_after=m)
    state = AlertState()
    for i, sev in enumerate(sevs):
        state, _ = step(policy, state, Observation(sev, 500, 0.3), now=float(i))  # type: ignore[arg-type]
        assert AlertState.from_dict(state.to_dict()) == state
    transitions = [t for t in run(policy, sevs) if t]
    # firings and resolutions alternate, starting with a firing (escalations add firings)
    assert all(a[0] != "resolved" or b[0] != "resolved" for a, b in pairwise(transitions))


def alert(aid: str, feature: str, severity: str = C, since: float = 1000.0) -> FiringAlert:
    return FiringAlert(aid, feature, severity, since, 0.5)


@pytest.mark.parametrize(
    ("alerts", "rule"),
    [
        ([alert("p", PERFORMANCE_FEATURE)], "performance"),
        ([alert("q", PREDICTION_FEATURE)], "prediction_drift"),
        ([alert("a", "x"), alert("b", "y")], "critical_features>=2"),
        ([alert("a", "x")], None),  # one feature is thin evidence
        ([alert("a", "x", W), alert("b", "y", W), alert("c", "z", W)], None),  # warnings never trigger
        ([alert("a", "x"), alert("a2", "x")], None),  # two alerts on one feature are one feature
    ],
)
def test_retrain_rules(alerts: list[FiringAlert], rule: str | None) -> None:
    _, decision = evaluate(RetrainPolicy(), RetrainState(), alerts, now=5000.0)
    assert (decision.rule if decision else None) == rule


def test_rules_can_be_switched_off() -> None:
    policy = RetrainPolicy(on_performance=False, on_prediction_drift=False)
    assert evaluate(policy, RetrainState(), [alert("p", PERFORMANCE_FEATURE), alert("q", PREDICTION_FEATURE)],
                    now=1.0)[1] is None


def test_minimum_interval_and_daily_cap() -> None:
    policy = RetrainPolicy(min_interval_seconds=3600, max_per_day=2, lookback_seconds=600)

    def alerts(tag: str) -> list[FiringAlert]:  # new evidence each time, so only the rate limits can refuse
        return [alert(f"a{tag}", "x", since=100.0), alert(f"b{tag}", "y", since=400.0)]

    state, first = evaluate(policy, RetrainState(), alerts("1"), now=1000.0)
    assert first is not None and (first.window_start, first.window_end) == (100.0 - 600, 1000.0)
    assert evaluate(policy, state, alerts("2"), now=1000.0 + 1800)[1] is None  # within the interval
    state, second = evaluate(policy, state, alerts("2"), now=1000.0 + 3600)
    assert second is not None
    assert evaluate(policy, state, alerts("3"), now=1000.0 + 7200)[1] is None  # third in 24 h
    assert evaluate(policy, state, alerts("3"), now=1000.0 + 86_400 + 1)[1] is not None  # the first aged out


def test_ids_are_deterministic_and_distinct() -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    base = {"model_id": "m", "feature": "x", "detector": "psi", "window_start": start, "window_end": end,
            "state": "firing", "reference_version": "v1"}
    assert alert_id(**base) == alert_id(**base)
    variants = {alert_id(**(base | {k: v})) for k, v in [("model_id", "n"), ("feature", "y"), ("detector", "ks"),
                ("window_end", start), ("state", "resolved"), ("reference_version", "v2")]}
    assert len(variants | {alert_id(**base)}) == 7
    assert trigger_id(model_id="m", rule="r", alert_ids=["a", "b"]) == trigger_id(model_id="m", rule="r",
                                                                                 alert_ids=("b", "a"))
    assert trigger_id(model_id="m", rule="r", alert_ids=["a"]) != trigger_id(model_id="m", rule="r",
                                                                            alert_ids=["a", "b"])


@pytest.mark.parametrize(
    "alerts",
    [
        [],  # nothing firing
        [alert("p", PERFORMANCE_FEATURE, W), alert("q", PREDICTION_FEATURE, W)],  # only warnings
    ],
)
def test_thin_evidence_never_triggers_and_leaves_the_rate_limit_alone(alerts: list[FiringAlert]) -> None:
    state = RetrainState((1.0,))
    new_state, decision = evaluate(RetrainPolicy(), state, alerts, now=10.0)
    assert decision is None and new_state == state


def test_decision_names_the_alerts_behind_the_rule_and_the_earliest_onset() -> None:
    alerts = [alert("z", "x", since=300.0), alert("y", "y", since=200.0), alert("w", "x", W, since=50.0)]
    _, decision = evaluate(RetrainPolicy(lookback_seconds=100), RetrainState(), alerts, now=1000.0)
    assert decision is not None
    assert decision.alert_ids == ("y", "z")  # sorted, and the warning is not evidence
    assert (decision.window_start, decision.window_end) == (100.0, 1000.0)
    assert trigger_id(model_id="m", rule=decision.rule, alert_ids=decision.alert_ids) == trigger_id(
        model_id="m", rule=decision.rule, alert_ids=["z", "y"])


@pytest.mark.parametrize(
    "bad",
    [{"min_critical_features": 0}, {"max_per_day": 0}, {"min_interval_seconds": -1}, {"lookback_seconds": -1}],
)
def test_retrain_policy_refuses_settings_a_spec_would_refuse(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=">= "):
        RetrainPolicy(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [{"fire_after": 0}, {"resolve_after": 0}, {"cooldown_seconds": -1}])
def test_alert_policy_refuses_nonsense(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=">= "):
        AlertPolicy(**bad)  # type: ignore[arg-type]


observations = st.tuples(st.sampled_from([C, W, None]), st.sampled_from([5, 500]))


@given(st.lists(observations, max_size=40), st.integers(1, 3), st.integers(1, 3), st.sampled_from([0.0, 150.0]))
def test_alert_policy_invariants(obs: list[tuple[str | None, int]], k: int, m: int, cooldown: float) -> None:
    """Whatever the windows: states survive JSON, small windows change nothing, firings respect k and cooldown."""
    policy = AlertPolicy(fire_after=k, resolve_after=m, cooldown_seconds=cooldown, min_samples=100)
    state, last_resolve, counted = AlertState(), None, []
    for i, (sev, n) in enumerate(obs):
        now = 60.0 * i
        new_state, t = step(policy, state, Observation(sev, n, 0.3), now=now)  # type: ignore[arg-type]
        assert AlertState.from_dict(json.loads(json.dumps(new_state.to_dict()))) == new_state
        if n < policy.min_samples:
            assert (new_state, t) == (state, None)
        else:
            counted.append(sev)
        if t is not None and t.state == "firing" and not state.firing:
            assert len(counted) >= k and all(s is not None for s in counted[-k:])
            assert last_resolve is None or now - last_resolve >= cooldown
        if t is not None and t.state == "resolved":
            assert len(counted) >= m and all(s is None for s in counted[-m:])
            last_resolve = now
        state = new_state


@given(st.lists(st.floats(0, 1e9, allow_nan=False), max_size=5))
def test_retrain_state_survives_json(times: list[float]) -> None:
    state = RetrainState(tuple(times))
    assert RetrainState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
