"""The alert policy: a pure state machine from window verdicts to firing / resolved transitions.

Per (model, feature, detector): ``fire_after`` consecutive drifting windows to
fire, ``resolve_after`` consecutive clean windows to resolve, no new firing
within ``cooldown_seconds`` of a resolve, windows with fewer than
``min_samples`` values ignored (they count neither way), a firing alert not
repeated every window, and an escalation from warning to critical reported as a
new transition. Time is passed in (``now``, epoch seconds): no clock inside.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from driftline.detectors.policies.codec import PolicyStateError, check_fields, dump, load

Severity = Literal["warning", "critical"]
SEVERITIES = ("warning", "critical")


@dataclass(frozen=True)
class AlertPolicy:
    """How many windows fire and resolve an alert, the cooldown, and the smallest window that counts.

    >>> AlertPolicy(fire_after=2).resolve_after
    2
    """

    fire_after: int = 1
    resolve_after: int = 2
    cooldown_seconds: float = 0.0
    min_samples: int = 100

    def __post_init__(self) -> None:
        if self.fire_after < 1 or self.resolve_after < 1 or self.cooldown_seconds < 0 or self.min_samples < 0:
            raise ValueError("fire_after and resolve_after must be >= 1; cooldown and min_samples >= 0")


@dataclass(frozen=True)
class Observation:
    """One closed window's verdict: ``severity`` None means clean.

    >>> Observation(None, 500, 0.01).severity is None
    True
    """

    severity: Severity | None
    n_samples: int
    statistic: float


@dataclass(frozen=True)
class AlertState:
    """Everything the policy remembers between windows; plain data, so it checkpoints anywhere.

    Examples
    --------
    >>> AlertState.from_dict(AlertState(firing=True, severity="critical").to_dict()).firing
    True
    >>> AlertState.from_bytes(AlertState(severity="warning", firing=True).to_bytes()).severity
    'warning'
    """

    VERSION = 1

    firing: bool = False
    severity: Severity | None = None
    drifting_streak: int = 0
    clean_streak: int = 0
    onset: float | None = None
    resolved_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Primitives only (JSON-ready)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertState:
        """The state :meth:`to_dict` made; a :class:`PolicyStateError` for anything else."""
        number = (int, float)
        check_fields("alert_state", data, {
            "firing": (bool,), "severity": (str, type(None)), "drifting_streak": (int,), "clean_streak": (int,),
            "onset": (*number, type(None)), "resolved_at": (*number, type(None)),
        })
        state = cls(**data)
        if state.severity not in (None, *SEVERITIES) or state.firing != (state.severity is not None):
            raise PolicyStateError(f"alert_state: firing={state.firing} with severity={state.severity!r}")
        if state.drifting_streak < 0 or state.clean_streak < 0:
            raise PolicyStateError("alert_state: streaks must be >= 0")
        for f in ("onset", "resolved_at"):
            value = getattr(state, f)
            if value is not None and not math.isfinite(value):
                raise PolicyStateError(f"alert_state: {f} must be finite")
        return state

    def to_bytes(self) -> bytes:
        """Versioned JSON bytes."""
        return dump("alert_state", self.VERSION, self.to_dict())

    @classmethod
    def from_bytes(cls, raw: bytes) -> AlertState:
        """The state :meth:`to_bytes` made; unknown versions are refused."""
        return cls.from_dict(load("alert_state", cls.VERSION, raw))


@dataclass(frozen=True)
class Transition:
    """An alert firing or resolving, with when its drift began (``onset``).

    An escalation (warning to critical while firing) is a new ``"firing"``
    transition with ``escalated_from="warning"``.

    Examples
    --------
    >>> Transition("firing", "critical", at=60.0, onset=0.0, statistic=0.4).state
    'firing'
    """

    state: Literal["firing", "resolved"]
    severity: Severity
    at: float
    onset: float
    statistic: float
    escalated_from: Severity | None = None


def step(policy: AlertPolicy, state: AlertState, obs: Observation, now: float) -> tuple[AlertState, Transition | None]:
    """Advance by one window.

    >>> p = AlertPolicy(fire_after=2, resolve_after=1, min_samples=10)
    >>> s, out = AlertState(), []
    >>> for sev in ["critical", "critical", "critical", None]:
    ...     s, t = step(p, s, Observation(sev, 500, 0.3), now=len(out))
    ...     out.append(t and (t.state, t.severity))
    >>> out
    [None, ('firing', 'critical'), None, ('resolved', 'critical')]
    """
    if obs.n_samples < policy.min_samples:
        return state, None
    if obs.severity is None:
        return _clean(policy, state, obs, now)
    state = replace(
        state, drifting_streak=state.drifting_streak + 1, clean_streak=0,
        onset=state.onset if state.onset is not None else now,
    )
    if state.firing:
        if state.severity == "warning" and obs.severity == "critical":
            state = replace(state, severity="critical")
            return state, Transition("firing", "critical", now, _onset(state, now), obs.statistic, "warning")
        return state, None
    cooling = state.resolved_at is not None and now - state.resolved_at < policy.cooldown_seconds
    if state.drifting_streak < policy.fire_after or cooling:
        return state, None
    state = replace(state, firing=True, severity=obs.severity)
    return state, Transition("firing", obs.severity, now, _onset(state, now), obs.statistic)


def _clean(
    policy: AlertPolicy, state: AlertState, obs: Observation, now: float
) -> tuple[AlertState, Transition | None]:
    state = replace(state, clean_streak=state.clean_streak + 1, drifting_streak=0)
    if not state.firing:
        return replace(state, onset=None), None
    if state.clean_streak < policy.resolve_after:
        return state, None
    transition = Transition("resolved", state.severity or "warning", now, _onset(state, now), obs.statistic)
    return AlertState(clean_streak=state.clean_streak, resolved_at=now), transition


def _onset(state: AlertState, now: float) -> float:
    return state.onset if state.onset is not None else now  # 0.0 is a valid time, so no `or`
