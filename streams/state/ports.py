"""What the pipeline, the commands and the views need from state, as Protocols, and the values they pass.

The Redis classes (:mod:`.windows`, :mod:`.labels`, :mod:`.lease`, :mod:`.retrain`, :mod:`.history`,
:mod:`.progress`) implement these ports, and :mod:`.memory` does too, with the same semantics as the Lua
scripts, for unit tests of the logic above. One contract suite (tests/test_streams/test_state_contract.py)
runs against both. Nothing here knows a key name. The label join's values are in :mod:`.label_values`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

from driftline.streams.state.label_values import Join, KeptPrediction, LabelBatch, LabelCounts

if TYPE_CHECKING:
    import numpy as np

    from driftline.config import DriftAlert, RetrainTrigger
    from driftline.detectors import AlertState, FiringAlert, ModelReference, RetrainState
    from driftline.streams.state.history import WindowPoint

COUNT_FIELD = "__n__"
"""A bucket's field counting its events (``__n__|key=value``: a segment's)."""

PREDICTION_BUCKET_SECONDS = 86_400


def prediction_bucket(ts_seconds: float) -> int:
    """The UTC day under which a prediction stored at ``ts_seconds`` (its record's timestamp) is kept.

    >>> prediction_bucket(86_399.0), prediction_bucket(86_400.0)
    (0, 1)
    """
    return int(ts_seconds // PREDICTION_BUCKET_SECONDS)


class ApplyResult(IntEnum):
    APPLIED = 1
    ALREADY_APPLIED = 0
    OVERLAPS_WATERMARK = -1
    JOIN_RACE = -3
    """Nothing applied: a label and its prediction crossed (one arrived while the other's batch was planned);
    re-plan the batch and the join is found."""
    VERSION_PINNED = -4
    """Nothing applied: a bucket of the batch is binned on another reference version already; re-plan its
    events on that version (:meth:`WindowStore.bucket_versions`)."""


class CloseResult(IntEnum):
    CLOSED = 1
    LEASE_LOST = 0
    ALREADY_CLOSED = 2


REFERENCE_EXISTS = -2
"""What :meth:`WindowStore.apply_warmup` answers when the model got its reference meanwhile."""


@dataclass
class ModelBatch:
    """What one apply writes for one model from one partition: per-bucket counts, kept predictions, the
    offsets it covers (the watermark moves to ``max_offset``), and its largest event time."""

    model_id: str
    partition: int
    min_offset: int
    max_offset: int
    max_event_time: float
    buckets: dict[int, dict[str, int]] = field(default_factory=dict)
    """Bucket id -> ``<feature>:<bin>`` / ``<feature>:null`` / ``__n__`` -> count."""
    predictions: dict[int, dict[str, bytes]] = field(default_factory=dict)
    """Per UTC day the prediction was stored (its record's timestamp, :func:`prediction_bucket`):
    prediction_id -> :func:`stored_prediction` JSON."""
    keep_predictions_seconds: int = 0
    predicted: dict[int, int] = field(default_factory=dict)
    """Performance window id -> predictions made in it (label completeness), for models that join labels."""
    joins: list[Join] = field(default_factory=list)
    """Labels waiting for these predictions (they came first), joined by this apply; their predictions are
    not stored."""
    now: float = 0.0
    """The worker's clock (epoch seconds) for the kept predictions' expiry."""
    online_values: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """Per online detector (its index in the spec): the finite values fed to it, and their event times
    (what the online runner reads; the store does not)."""
    versions: dict[int, str] = field(default_factory=dict)
    """Bucket id -> the reference version its counts are binned on (a bucket keeps its first writer's)."""
    features_apart_from: float | None = None
    """The event time of the batch's first prediction that came without features (they are sent as
    FeatureEvents), or None when every prediction carried its features."""

    @property
    def n_events(self) -> int:
        return sum(counts.get(COUNT_FIELD, 0) for counts in self.buckets.values())


@dataclass
class WarmupBatch:
    """Events of a model still warming up (no reference yet), from one partition: rows for its reference."""

    model_id: str
    partition: int
    min_offset: int
    max_offset: int
    rows: list[bytes]


@dataclass(frozen=True)
class WindowCounts:
    """One window's counts (its buckets added up), per feature: bin index (or ``"null"``) -> count."""

    window_id: int
    n_events: int
    features: dict[str, dict[str, int]]
    versions: frozenset[str] = frozenset()
    """The reference versions its buckets are binned on (one, unless a sliding window spans a switch)."""


@dataclass(frozen=True)
class BucketLayout:
    """How the store judges a batch's buckets late: bucket length (0: only closed windows are late), allowed
    lateness, and how many partitions must carry the model before its horizon counts (0: whichever did)."""

    bucket_seconds: int = 0
    lateness_seconds: int = 0
    expected_partitions: int = 0


UNBOUNDED = BucketLayout()
"""No bucket length: only closed windows are late (the default of an apply)."""


@dataclass(frozen=True)
class WindowClose:
    """Everything a window's close stores at once: the alert states after it, each feature's latest
    statistic (JSON), and its history entry (None: no history kept)."""

    window_id: int
    window_end: float
    states: Mapping[str, AlertState]
    latest: Mapping[str, str]
    point: WindowPoint | None = None
    history_windows: int = 0
    """History entries kept (0: none written)."""
    buckets_per_window: int = 1


class ReferenceStore(Protocol):
    async def get_reference(self, model_id: str) -> ModelReference | None: ...
    async def put_reference(self, reference: ModelReference) -> None: ...
    async def put_reference_if_absent(self, reference: ModelReference) -> ModelReference:
        """Set it unless the model has one; either way, the one it has now (first writer wins)."""
        ...
    async def model_ids(self) -> list[str]: ...


class WindowStore(ReferenceStore, Protocol):
    """Bucket counts under partition watermarks, the windows' close, warm-up rows and detector states."""

    async def applied_offsets(self, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]: ...
    async def apply(self, batch: ModelBatch, layout: BucketLayout = UNBOUNDED,
                    detector_states: Mapping[str, bytes] | None = None) -> ApplyResult: ...
    async def apply_warmup(self, batch: WarmupBatch) -> int: ...
    async def warmup_rows(self, model_id: str) -> list[bytes]: ...
    async def detector_states(self, model_id: str, fields: Sequence[str]) -> dict[str, bytes]: ...
    async def closable_buckets(self, model_id: str, *, bucket_seconds: int, lateness_seconds: int,
                               expected_partitions: int = 0, horizon: float | None = None,
                               features_stale_before: float | None = None) -> list[int]:
        """The last buckets of open windows the event-time horizon (minus the lateness) has passed: the
        model's slowest partition's event time, or ``horizon`` when given (a quiet stream's estimate); features
        partitions whose last batch came before ``features_stale_before`` (wall clock) do not hold it."""
        ...
    async def note_features(self, model_id: str, partition: int, wall_time: float) -> None: ...
    async def bucket_versions(self, model_id: str, bucket_ids: Sequence[int]) -> dict[int, str]: ...
    async def get_reference_version(self, model_id: str, version: str) -> ModelReference | None: ...
    async def expect_features(self, model_id: str, event_time: float, wall_time: float) -> bool:
        """Hold the model's windows open for FeatureEvents from ``event_time`` on, unless its features topic
        has a partition already (False)."""
        ...
    async def read_buckets(self, model_id: str, bucket_ids: Iterable[int]) -> WindowCounts: ...
    async def alert_states(self, model_id: str) -> dict[str, AlertState]: ...
    async def close_window(self, model_id: str, close: WindowClose, *, lease: str = "") -> CloseResult: ...
    async def late_count(self, model_id: str) -> int: ...
    async def closed_window_count(self, model_id: str) -> int: ...
    async def latest(self, model_id: str) -> dict[str, dict[str, Any]]: ...
    async def pending_labels(self, model_id: str, prediction_ids: Sequence[str]) -> dict[str, bytes]:
        """The labels waiting for these predictions (a label that came first)."""
        ...


class LabelStore(Protocol):
    async def applied_offsets(self, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]: ...
    async def find_predictions(self, model_id: str, prediction_ids: Sequence[str],
                               now: float) -> tuple[dict[str, KeptPrediction], tuple[int, ...]]:
        """The kept predictions of these ids (in whichever day they are kept), and the days looked in."""
        ...
    async def detector_states(self, model_id: str, fields: Sequence[str]) -> dict[str, bytes]: ...
    async def apply(self, batch: LabelBatch) -> ApplyResult: ...
    async def counts(self, model_id: str, now: float) -> LabelCounts: ...
    async def performance(self, model_id: str, window_ids: Sequence[int]) -> dict[int, dict[str, float]]:
        """The summed counters (and ``predicted``) of each performance window that has any."""
        ...
    async def performance_windows(self, model_id: str, *, since: int, until: int) -> list[int]:
        """The ids of the performance windows in ``[since, until]`` (kept ones)."""
        ...
    async def performance_state(self, model_id: str) -> bytes | None: ...
    async def put_performance_state(self, model_id: str, state: bytes) -> None: ...


class ModelLeases(Protocol):
    def hold(self, model_id: str) -> AbstractAsyncContextManager[str]:
        """Wait for the model's lease, hold it for the block, release it; yields the fencing token."""
        ...


@dataclass(frozen=True)
class RetrainRecord:
    """A model's alerts firing now (keyed by feature, segment and detector) and its retrain policy's state."""

    firing: dict[str, FiringAlert]
    state: RetrainState | None


class RetrainStore(Protocol):
    async def load(self, model_id: str) -> RetrainRecord: ...
    async def save(self, model_id: str, firing: Mapping[str, FiringAlert], state: RetrainState | None) -> None:
        """Replace the firing alerts and (when not None) the policy state, atomically."""
        ...
    async def firing_keys(self, model_id: str) -> list[str]: ...


class HistoryStore(Protocol):
    async def record_alert(self, alert: DriftAlert, value: bytes) -> None: ...
    async def record_trigger(self, trigger: RetrainTrigger, value: bytes) -> None: ...
    async def windows(self, model_id: str, *, since: float | None = None, until: float | None = None,
                      last: int | None = None) -> list[WindowPoint]: ...
    async def alerts(self, model_id: str, *, since: float | None = None,
                     until: float | None = None) -> list[DriftAlert]: ...
    async def triggers(self, model_id: str, *, since: float | None = None,
                       until: float | None = None) -> list[RetrainTrigger]: ...


class Progress(Protocol):
    """Per consumer group: where each partition's processing is (the offset after its last applied batch)."""

    async def mark(self, topic: str, next_offsets: dict[int, int]) -> None: ...
    async def read(self, topic: str, partitions: list[int]) -> dict[int, int]: ...


class State(Protocol):
    """Every port on one backend: what a worker, a command or the dashboard opens."""

    @property
    def windows(self) -> WindowStore: ...
    @property
    def labels(self) -> LabelStore: ...
    @property
    def leases(self) -> ModelLeases: ...
    @property
    def retrain(self) -> RetrainStore: ...
    @property
    def history(self) -> HistoryStore: ...

    def progress(self, group: str) -> Progress: ...
    async def overview(self, model_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Per model: how many features drift (critical) in their latest window, and how many alerts fire."""
        ...
    async def ping(self) -> None: ...
    async def aclose(self) -> None: ...
