"""State: the only package that knows Redis keys.

The ports (:mod:`.ports`) say what the pipeline, the commands and the views need; :class:`RedisState` serves
them from Redis (Lua scripts in ``lua/``), :class:`MemoryState` from memory with the same semantics (unit
tests). Everything outside this package reaches state through these names.
"""

from __future__ import annotations

from driftline.streams.state.client import RedisClient, redis_client
from driftline.streams.state.errors import TRANSIENT_ERRORS, LeaseLost
from driftline.streams.state.history import FeaturePoint, WindowPoint, window_point
from driftline.streams.state.keys import features_partition
from driftline.streams.state.label_values import (
    Join,
    KeptPrediction,
    LabelBatch,
    LabelCounts,
    PendingLabel,
    read_stored_prediction,
    stored_prediction,
)
from driftline.streams.state.lease import TriggerLease
from driftline.streams.state.memory import MemoryState
from driftline.streams.state.ports import (
    COUNT_FIELD,
    REFERENCE_EXISTS,
    UNBOUNDED,
    ApplyResult,
    BucketLayout,
    CloseResult,
    HistoryStore,
    LabelStore,
    ModelBatch,
    ModelLeases,
    Progress,
    ReferenceStore,
    RetrainRecord,
    RetrainStore,
    State,
    WarmupBatch,
    WindowClose,
    WindowCounts,
    WindowStore,
    prediction_bucket,
)
from driftline.streams.state.progress import start_offset
from driftline.streams.state.redis_state import RedisState

__all__ = [  # noqa: RUF022 — grouped by role, as aiokafka does
    # backends
    "MemoryState",
    "RedisClient",
    "RedisState",
    "State",
    "redis_client",
    # ports
    "HistoryStore",
    "LabelStore",
    "ModelLeases",
    "Progress",
    "ReferenceStore",
    "RetrainStore",
    "TriggerLease",
    "WindowStore",
    # values
    "COUNT_FIELD",
    "REFERENCE_EXISTS",
    "UNBOUNDED",
    "Join",
    "KeptPrediction",
    "LabelCounts",
    "PendingLabel",
    "read_stored_prediction",
    "stored_prediction",
    "ApplyResult",
    "BucketLayout",
    "CloseResult",
    "FeaturePoint",
    "LabelBatch",
    "ModelBatch",
    "RetrainRecord",
    "WarmupBatch",
    "WindowClose",
    "WindowCounts",
    "WindowPoint",
    "prediction_bucket",
    "features_partition",
    "window_point",
    "start_offset",
    # errors
    "TRANSIENT_ERRORS",
    "LeaseLost",
]
