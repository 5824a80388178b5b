"""Policies as pure state machines: alert hysteresis and the guarded retrain trigger.

Time is always passed in (``now``, epoch seconds of event time); states are
small frozen values that save to a dict of primitives or to versioned bytes.
"""

from __future__ import annotations

from driftline.detectors.policies.alert_policy import AlertPolicy, AlertState, Observation, Transition, step
from driftline.detectors.policies.codec import PolicyStateError
from driftline.detectors.policies.retrain_policy import (
    FiringAlert,
    RetrainPolicy,
    RetrainState,
    TriggerDecision,
    evaluate,
)
from driftline.detectors.policies.severity import SeverityBands, online_observation

__all__ = [
    "AlertPolicy",
    "AlertState",
    "FiringAlert",
    "Observation",
    "PolicyStateError",
    "RetrainPolicy",
    "RetrainState",
    "SeverityBands",
    "Transition",
    "TriggerDecision",
    "evaluate",
    "online_observation",
    "step",
]
