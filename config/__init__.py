"""Settings, monitor specs and event schemas: the only layer that reads the environment.

Imports only pydantic and the standard library. The names other layers use, by role:
"""

from __future__ import annotations

from driftline.config.events import (
    PERFORMANCE_FEATURE,
    PREDICTION_FEATURE,
    VOLUME_FEATURE,
    CategoricalEvidence,
    DeadLetter,
    DriftAlert,
    FeatureEvent,
    HistogramEvidence,
    LabelEvent,
    ModelId,
    PredictionEvent,
    RetrainTrigger,
    TimeWindow,
    class_feature,
    class_of,
    segment_key,
    top_class,
)
from driftline.config.monitor_spec import (
    AlertPolicySpec,
    CategoricalFeature,
    Feature,
    ModelSpec,
    MonitorConfig,
    NumericFeature,
    OnlineDetectorSpec,
    RetrainPolicySpec,
    SlidingWindow,
    SpecError,
    Thresholds,
    TumblingWindow,
    parse_monitor_config,
)
from driftline.config.settings import (
    KafkaSettings,
    RedisSettings,
    Settings,
    TopicSettings,
    cache_dir,
    external_services,
    load_settings,
    masked,
)

__all__ = [  # noqa: RUF022 — grouped by role, as aiokafka does
    # events (wire schemas)
    "PERFORMANCE_FEATURE",
    "PREDICTION_FEATURE",
    "VOLUME_FEATURE",
    "CategoricalEvidence",
    "DeadLetter",
    "DriftAlert",
    "FeatureEvent",
    "HistogramEvidence",
    "LabelEvent",
    "ModelId",
    "PredictionEvent",
    "RetrainTrigger",
    "TimeWindow",
    "segment_key",
    "class_feature",
    "class_of",
    "top_class",
    # monitor specs
    "AlertPolicySpec",
    "CategoricalFeature",
    "Feature",
    "ModelSpec",
    "MonitorConfig",
    "NumericFeature",
    "OnlineDetectorSpec",
    "RetrainPolicySpec",
    "SlidingWindow",
    "SpecError",
    "Thresholds",
    "TumblingWindow",
    "parse_monitor_config",
    # settings
    "KafkaSettings",
    "RedisSettings",
    "Settings",
    "TopicSettings",
    "cache_dir",
    "external_services",
    "load_settings",
    "masked",
]
