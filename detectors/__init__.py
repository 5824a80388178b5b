"""Pure drift science: references, window statistics, online detectors, policies, alerts.

No I/O. May import numpy, scipy, river and ``driftline.config``. The curated public API, by role — what
the worker runs. The mergeable quantile sketch and categorical counts (``detectors.sketches``) and the
sketch-based KS / Wasserstein tests (``detectors.stats.window_tests``) are not on any product path since
window tests run on the reference's bins (ADR 0008); they stay importable from their modules for a later
feature, and are not part of this API.
"""

from __future__ import annotations

from driftline.detectors.alerts import online_alert, window_alerts
from driftline.detectors.budget import (
    BUDGET_KEY,
    Allocation,
    ModelLoad,
    allocate,
    count_window_tests,
    windows_per_day,
)
from driftline.detectors.calibration import CalibratedThreshold, calibrate
from driftline.detectors.error_indicator import NotComparable
from driftline.detectors.gating import DecisionRule, FeatureEvidence, benjamini_hochberg, bonferroni, decide
from driftline.detectors.ids import alert_id, trigger_id
from driftline.detectors.online import OnlineDetector, OnlineVerdict, StateError, make_detector
from driftline.detectors.online.rules import deciding_value, decision_rule, is_online
from driftline.detectors.online.watch import StreamWatch, WatchTransition, watch
from driftline.detectors.performance import Metrics, Task, metrics, outcome, task_of
from driftline.detectors.performance_band import (
    PerformanceJudgement,
    PerformanceState,
    alpha_for,
    band_at,
    judge_performance,
)
from driftline.detectors.policies import (
    AlertPolicy,
    AlertState,
    FiringAlert,
    Observation,
    RetrainPolicy,
    RetrainState,
    Transition,
    TriggerDecision,
    evaluate,
)
from driftline.detectors.quality import (
    NULL_BIN,
    OUT_OF_RANGE_BIN,
    SIGNALS,
    UNSEEN_NAMED_PER_BATCH,
    WRONG_TYPE_BIN,
    missing_windows,
    quality_windows,
    unseen_bin,
    values_counted,
)
from driftline.detectors.reference import (
    AnyFeatureReference,
    CategoricalReference,
    FeatureReference,
    ModelReference,
    category_name,
    content_version,
    versioned,
)
from driftline.detectors.sketches import NumericHistogram, SketchFormatError
from driftline.detectors.spec_resolution import resolve_spec, spec_problems
from driftline.detectors.stats import WindowVerdict, chi_square_test, hellinger_test, js_test, psi_test
from driftline.detectors.stats.binned import binned_ks_test, binned_wasserstein_test
from driftline.detectors.thresholds import Bar, reference_bars
from driftline.detectors.values import numeric_values
from driftline.detectors.variability import MIN_GROUPS
from driftline.detectors.volume import VOLUME_KEY, VolumeBaseline, volume_window
from driftline.detectors.window_compare import FeatureWindow, compare_window

__all__ = [  # noqa: RUF022 — grouped by role, as aiokafka does
    # references
    "AnyFeatureReference",
    "CategoricalReference",
    "FeatureReference",
    "ModelReference",
    "NumericHistogram",
    "SketchFormatError",
    "content_version",
    "versioned",
    # window tests and decisions
    "FeatureWindow",
    "WindowVerdict",
    "binned_ks_test",
    "binned_wasserstein_test",
    "chi_square_test",
    "compare_window",
    "missing_windows",
    "quality_windows",
    "volume_window",
    "VolumeBaseline",
    "VOLUME_KEY",
    "SIGNALS",
    "NULL_BIN",
    "WRONG_TYPE_BIN",
    "OUT_OF_RANGE_BIN",
    "UNSEEN_NAMED_PER_BATCH",
    "unseen_bin",
    "values_counted",
    "numeric_values",
    "category_name",
    "hellinger_test",
    "js_test",
    "psi_test",
    "DecisionRule",
    "FeatureEvidence",
    "benjamini_hochberg",
    "bonferroni",
    "decide",
    "CalibratedThreshold",
    "calibrate",
    "resolve_spec",
    "spec_problems",
    # the bars a reference sets (calibrated, its own variability, floor, band)
    "Bar",
    "MIN_GROUPS",
    "reference_bars",
    # the fleet's false-alarm budget
    "Allocation",
    "BUDGET_KEY",
    "ModelLoad",
    "allocate",
    "count_window_tests",
    "windows_per_day",
    # online detectors
    "OnlineDetector",
    "OnlineVerdict",
    "StateError",
    "StreamWatch",
    "WatchTransition",
    "make_detector",
    "watch",
    "decision_rule",
    "deciding_value",
    "is_online",
    # performance from joined labels
    "Metrics",
    "PerformanceJudgement",
    "PerformanceState",
    "band_at",
    "Task",
    "alpha_for",
    "judge_performance",
    "metrics",
    "outcome",
    "task_of",
    "NotComparable",
    # policies, alerts and ids
    "AlertPolicy",
    "AlertState",
    "FiringAlert",
    "Observation",
    "RetrainPolicy",
    "RetrainState",
    "Transition",
    "TriggerDecision",
    "evaluate",
    "online_alert",
    "window_alerts",
    "alert_id",
    "trigger_id",
]
