"""Policies as pure state machines: alert hysteresis and the guarded retrain trigger."""

from __future__ import annotations

from driftline.detectors.policies.alert_policy import AlertPolicy, AlertState, Observation, Transition, step
from driftline.detectors.policies.retrain_policy import (
    FiringAlert,
    RetrainPolicy,
    RetrainState,
    TriggerDecision,
    evaluate,
)

__all__ = [
    "AlertPolicy",
    "AlertState",
    "FiringAlert",
    "Observation",
    "RetrainPolicy",
    "RetrainState",
    "Transition",
    "TriggerDecision",
    "evaluate",
    "step",
]
