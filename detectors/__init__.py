"""Pure drift science: sketches, window statistics, online detectors, policies.

No I/O. May import numpy, scipy, river and ``driftline.config``. The curated
public API, by role:
"""

from __future__ import annotations

from driftline.detectors.calibration import CalibratedThreshold, calibrate
from driftline.detectors.gating import DecisionRule, FeatureEvidence, benjamini_hochberg, bonferroni, decide
from driftline.detectors.ids import alert_id, trigger_id
from driftline.detectors.online import OnlineDetector, OnlineVerdict, StateError, make_detector
from driftline.detectors.policies import (
    AlertPolicy,
    AlertState,
    FiringAlert,
    Observation,
    RetrainPolicy,
    RetrainState,
    Transition,
    TriggerDecision,
)
from driftline.detectors.reference import FeatureReference, ModelReference
from driftline.detectors.sketches import CategoricalCounts, NumericHistogram, QuantileSketch, SketchFormatError
from driftline.detectors.stats import (
    WindowVerdict,
    chi_square_test,
    hellinger_test,
    js_test,
    ks_test,
    psi_test,
    wasserstein_test,
)

__all__ = [  # noqa: RUF022 — grouped by role, as aiokafka does
    # sketches
    "CategoricalCounts",
    "NumericHistogram",
    "QuantileSketch",
    "SketchFormatError",
    # references
    "FeatureReference",
    "ModelReference",
    # window tests and decisions
    "WindowVerdict",
    "chi_square_test",
    "hellinger_test",
    "js_test",
    "ks_test",
    "psi_test",
    "wasserstein_test",
    "DecisionRule",
    "FeatureEvidence",
    "benjamini_hochberg",
    "bonferroni",
    "decide",
    "CalibratedThreshold",
    "calibrate",
    # online detectors
    "OnlineDetector",
    "OnlineVerdict",
    "StateError",
    "make_detector",
    # policies and ids
    "AlertPolicy",
    "AlertState",
    "FiringAlert",
    "Observation",
    "RetrainPolicy",
    "RetrainState",
    "Transition",
    "TriggerDecision",
    "alert_id",
    "trigger_id",
]
