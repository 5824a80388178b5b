"""State in memory: every port of :mod:`.ports` with the semantics of the Redis scripts, for unit tests.

What the Lua scripts decide is decided here the same way — a batch at or below its partition's watermark
is a no-op, one overlapping it is refused, buckets of closed windows (in the closed set or at or below the
floor it was trimmed to) and buckets the event-time horizon passed before they opened count as late, a
close is fenced by the lease token and happens once — so the processors above can be tested without
services, and one contract suite (tests/test_streams/test_state_contract.py) holds both backends to it.
Nothing expires: TTLs are Redis' business and tested there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from driftline.config import DriftAlert, RetrainTrigger
from driftline.detectors import AlertState, FiringAlert, ModelReference, RetrainState
from driftline.streams.state.history import WindowPoint, window_entry_id
from driftline.streams.state.keys import FEATURES_EXPECTED
from driftline.streams.state.memory_labels import LabelSide, MemoryLabelStore, keep_and_join
from driftline.streams.state.ports import (
    COUNT_FIELD,
    REFERENCE_EXISTS,
    UNBOUNDED,
    ApplyResult,
    BucketLayout,
    CloseResult,
    ModelBatch,
    RetrainRecord,
    WarmupBatch,
    WindowClose,
    WindowCounts,
)
from driftline.streams.state.windows import CLOSED_KEPT, add_up_buckets, event_horizon


@dataclass
class _Model:
    """One model's state: what the keys under its hash tag hold in Redis."""

    reference: ModelReference | None = None
    watermarks: dict[int, int] = field(default_factory=dict)
    features_seen: dict[int, float] = field(default_factory=dict)
    event_times: dict[int, float] = field(default_factory=dict)
    open: set[int] = field(default_factory=set)
    closed: set[int] = field(default_factory=set)
    floor: int | None = None
    late: int = 0
    buckets: dict[int, dict[str, int]] = field(default_factory=dict)
    bucket_versions: dict[int, str] = field(default_factory=dict)
    references: dict[str, ModelReference] = field(default_factory=dict)
    """Every version the model has had, by version."""
    labels: LabelSide = field(default_factory=LabelSide)
    detector_states: dict[str, bytes] = field(default_factory=dict)
    warmup: list[bytes] = field(default_factory=list)
    alert_states: dict[str, str] = field(default_factory=dict)
    """As JSON, as Redis keeps them: what reads back is what any other reader would get."""
    latest: dict[str, str] = field(default_factory=dict)
    history: list[tuple[str, WindowPoint]] = field(default_factory=list)
    lease: str | None = None
    firing: dict[str, FiringAlert] = field(default_factory=dict)
    retrain: RetrainState | None = None
    alert_log: dict[bytes, float] = field(default_factory=dict)
    trigger_log: dict[bytes, float] = field(default_factory=dict)


class _Models(dict[str, _Model]):
    def __missing__(self, model_id: str) -> _Model:
        model = self[model_id] = _Model()
        return model


def _watermark_check(watermarks: Mapping[int, int], partition: int, min_offset: int, max_offset: int) -> ApplyResult:
    applied = watermarks.get(partition, -1)
    if applied >= max_offset:
        return ApplyResult.ALREADY_APPLIED
    if applied >= min_offset:
        return ApplyResult.OVERLAPS_WATERMARK
    return ApplyResult.APPLIED


class MemoryWindowStore:
    """The window store (and references) in memory; see the module's docstring."""

    def __init__(self, models: _Models) -> None:
        self._models = models

    async def get_reference(self, model_id: str) -> ModelReference | None:
        return self._models[model_id].reference if model_id in self._models else None

    async def put_reference(self, reference: ModelReference) -> None:
        model = self._models[reference.model_id]
        model.reference = reference
        model.references[reference.version] = reference

    async def get_reference_version(self, model_id: str, version: str) -> ModelReference | None:
        model = self._models.get(model_id)
        if model is None:
            return None
        if model.reference is not None and model.reference.version == version:
            return model.reference
        return model.references.get(version)

    async def bucket_versions(self, model_id: str, bucket_ids: Sequence[int]) -> dict[int, str]:
        pinned = self._models[model_id].bucket_versions
        return {b: pinned[b] for b in bucket_ids if b in pinned}

    async def put_reference_if_absent(self, reference: ModelReference) -> ModelReference:
        model = self._models[reference.model_id]
        if model.reference is None:
            model.reference = reference
            model.references[reference.version] = reference
        model.warmup.clear()
        return model.reference

    async def model_ids(self) -> list[str]:
        return sorted(m for m, model in self._models.items() if model.reference is not None)

    async def applied_offsets(self, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        return {(m, p): self._models[m].watermarks[p] for m, p in pairs
                if m in self._models and p in self._models[m].watermarks}

    async def apply(self, batch: ModelBatch, layout: BucketLayout = UNBOUNDED,
                    detector_states: Mapping[str, bytes] | None = None) -> ApplyResult:
        model = self._models[batch.model_id]
        verdict = _watermark_check(model.watermarks, batch.partition, batch.min_offset, batch.max_offset)
        if verdict is not ApplyResult.APPLIED:
            return verdict
        if any(model.bucket_versions.get(b, v) != v for b, v in batch.versions.items() if b in model.buckets):
            return ApplyResult.VERSION_PINNED
        joined = keep_and_join(model.labels, batch)
        if joined is not None:
            return joined
        horizon = None
        known = event_horizon(model.event_times, layout.expected_partitions)
        if layout.bucket_seconds > 0 and known is not None:
            horizon = known - layout.lateness_seconds
        model.detector_states.update(detector_states or {})
        for bucket_id in sorted(batch.buckets):
            counts = batch.buckets[bucket_id]
            late = (model.floor is not None and bucket_id <= model.floor) or bucket_id in model.closed
            if not late and horizon is not None and (bucket_id + 1) * layout.bucket_seconds <= horizon:
                late = bucket_id not in model.open
            if late:
                model.late += counts.get(COUNT_FIELD, 0)
                continue
            stored = model.buckets.setdefault(bucket_id, {})
            for name, n in counts.items():
                stored[name] = stored.get(name, 0) + n
            if bucket_id in batch.versions:
                model.bucket_versions.setdefault(bucket_id, batch.versions[bucket_id])
            model.open.add(bucket_id)
        model.watermarks[batch.partition] = batch.max_offset
        model.event_times[batch.partition] = max(model.event_times.get(batch.partition, float("-inf")),
                                                 batch.max_event_time)
        return ApplyResult.APPLIED

    async def apply_warmup(self, batch: WarmupBatch) -> int:
        model = self._models[batch.model_id]
        if model.reference is not None:
            return REFERENCE_EXISTS
        verdict = _watermark_check(model.watermarks, batch.partition, batch.min_offset, batch.max_offset)
        if verdict is ApplyResult.ALREADY_APPLIED:
            return len(model.warmup)
        if verdict is ApplyResult.OVERLAPS_WATERMARK:
            return -1
        model.warmup.extend(batch.rows)
        model.watermarks[batch.partition] = batch.max_offset
        return len(model.warmup)

    async def warmup_rows(self, model_id: str) -> list[bytes]:
        return list(self._models[model_id].warmup)

    async def detector_states(self, model_id: str, fields: Sequence[str]) -> dict[str, bytes]:
        states = self._models[model_id].detector_states
        return {f: states[f] for f in fields if f in states}

    async def closable_buckets(self, model_id: str, *, bucket_seconds: int, lateness_seconds: int,
                               expected_partitions: int = 0, horizon: float | None = None,
                               features_stale_before: float | None = None) -> list[int]:
        model = self._models[model_id]
        if horizon is None:
            stale = [p for p, t in model.features_seen.items()
                     if features_stale_before is not None and t < features_stale_before]
            horizon = event_horizon(model.event_times, expected_partitions, stale)
            if horizon is None:
                return []
        passed = horizon - lateness_seconds
        return sorted(w for w in model.open if (w + 1) * bucket_seconds <= passed)

    async def note_features(self, model_id: str, partition: int, wall_time: float) -> None:
        model = self._models[model_id]
        model.features_seen[partition] = wall_time
        model.event_times.pop(FEATURES_EXPECTED, None)
        model.features_seen.pop(FEATURES_EXPECTED, None)

    async def expect_features(self, model_id: str, event_time: float, wall_time: float) -> bool:
        model = self._models[model_id]
        if any(p < 0 for p in model.event_times):
            return False
        model.event_times[FEATURES_EXPECTED] = event_time
        model.features_seen[FEATURES_EXPECTED] = wall_time
        return True

    async def read_bucket(self, model_id: str, bucket_id: int) -> WindowCounts:
        return await self.read_buckets(model_id, [bucket_id])

    async def read_buckets(self, model_id: str, bucket_ids: Iterable[int]) -> WindowCounts:
        ids = list(bucket_ids)
        model = self._models[model_id]
        counts = add_up_buckets(ids[-1], (model.buckets.get(b, {}) for b in ids))
        versions = frozenset(model.bucket_versions[b] for b in ids if b in model.bucket_versions)
        return dataclasses.replace(counts, versions=versions)

    async def alert_states(self, model_id: str) -> dict[str, AlertState]:
        return {k: AlertState.from_dict(json.loads(v)) for k, v in self._models[model_id].alert_states.items()}

    async def close_window(self, model_id: str, close: WindowClose, *, lease: str = "") -> CloseResult:
        model = self._models[model_id]
        if lease and model.lease != lease:
            return CloseResult.LEASE_LOST
        if close.window_id in model.closed:
            return CloseResult.ALREADY_CLOSED
        model.alert_states.update({k: json.dumps(st.to_dict()) for k, st in close.states.items()})
        model.latest.update(close.latest)
        if close.point is not None and close.history_windows > 0:
            entry = window_entry_id(close.window_end)
            if not model.history or _entry_key(entry) > _entry_key(model.history[-1][0]):
                model.history.append((entry, close.point))
                del model.history[:-close.history_windows]
        model.closed.add(close.window_id)
        model.open.discard(close.window_id)
        if len(model.closed) >= 2 * CLOSED_KEPT:
            limit = close.window_id - CLOSED_KEPT
            dropped = {w for w in model.closed if w <= limit}
            model.closed -= dropped
            model.floor = max([*dropped, *([model.floor] if model.floor is not None else [])], default=None)
        return CloseResult.CLOSED

    async def late_count(self, model_id: str) -> int:
        return self._models[model_id].late

    async def closed_window_count(self, model_id: str) -> int:
        return len(self._models[model_id].closed)

    async def latest(self, model_id: str) -> dict[str, dict[str, Any]]:
        return {k: json.loads(v) for k, v in self._models[model_id].latest.items()}

    async def pending_labels(self, model_id: str, prediction_ids: Sequence[str]) -> dict[str, bytes]:
        pending = self._models[model_id].labels.pending
        return {pid: pending[pid] for pid in prediction_ids if pid in pending}


def _entry_key(entry: str) -> tuple[int, int]:
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq)


class MemoryModelLeases:
    """One holder per model at a time; waiters poll, as the Redis leases do (without a TTL: nothing dies)."""

    def __init__(self, models: _Models) -> None:
        self._models = models
        self._tokens = itertools.count(1)

    @asynccontextmanager
    async def hold(self, model_id: str) -> AsyncIterator[str]:
        model = self._models[model_id]
        token = f"memory:{next(self._tokens)}"
        while model.lease is not None:  # noqa: ASYNC110 — polling, as the Redis lease does
            await asyncio.sleep(0.001)
        model.lease = token
        try:
            yield token
        finally:
            if model.lease == token:
                model.lease = None

    def take(self, model_id: str, token: str) -> None:
        """Another worker's lease (a test's way to fence a close)."""
        self._models[model_id].lease = token


class MemoryRetrainStore:
    def __init__(self, models: _Models) -> None:
        self._models = models

    async def load(self, model_id: str) -> RetrainRecord:
        model = self._models[model_id]
        return RetrainRecord(dict(model.firing), model.retrain)

    async def save(self, model_id: str, firing: Mapping[str, FiringAlert], state: RetrainState | None) -> None:
        model = self._models[model_id]
        model.firing = dict(firing)
        if state is not None:
            model.retrain = state

    async def firing_keys(self, model_id: str) -> list[str]:
        return list(self._models[model_id].firing)


class MemoryHistory:
    def __init__(self, models: _Models, *, keep_events: int = 1000) -> None:
        self._models = models
        self._keep_events = keep_events

    async def record_alert(self, alert: DriftAlert, value: bytes) -> None:
        self._add(self._models[alert.model_id].alert_log, alert.window.end.timestamp(), value)

    async def record_trigger(self, trigger: RetrainTrigger, value: bytes) -> None:
        self._add(self._models[trigger.model_id].trigger_log, trigger.training_window.end.timestamp(), value)

    def _add(self, log: dict[bytes, float], score: float, value: bytes) -> None:
        if self._keep_events <= 0:
            return
        log[value] = score
        for old, _ in sorted(log.items(), key=lambda kv: (kv[1], kv[0]))[:-self._keep_events]:
            del log[old]

    async def windows(self, model_id: str, *, since: float | None = None, until: float | None = None,
                      last: int | None = None) -> list[WindowPoint]:
        points = [p for _, p in self._models[model_id].history
                  if (since is None or p.end >= since) and (until is None or p.end <= until)]
        return points[-last:] if last is not None else points

    async def alerts(self, model_id: str, *, since: float | None = None,
                     until: float | None = None) -> list[DriftAlert]:
        return [DriftAlert.model_validate_json(v) for v in _between(self._models[model_id].alert_log, since, until)]

    async def triggers(self, model_id: str, *, since: float | None = None,
                       until: float | None = None) -> list[RetrainTrigger]:
        return [RetrainTrigger.model_validate_json(v)
                for v in _between(self._models[model_id].trigger_log, since, until)]


def _between(log: Mapping[bytes, float], since: float | None, until: float | None) -> list[bytes]:
    return [v for v, s in sorted(log.items(), key=lambda kv: (kv[1], kv[0]))
            if (since is None or s >= since) and (until is None or s <= until)]


class MemoryProgress:
    def __init__(self, offsets: dict[tuple[str, int], int]) -> None:
        self._offsets = offsets

    async def mark(self, topic: str, next_offsets: dict[int, int]) -> None:
        self._offsets.update({(topic, p): o for p, o in next_offsets.items()})

    async def read(self, topic: str, partitions: list[int]) -> dict[int, int]:
        return {p: self._offsets[(topic, p)] for p in partitions if (topic, p) in self._offsets}


class MemoryState:
    """Every port in memory, sharing one set of models (as the Redis ports share one keyspace)."""

    def __init__(self, *, keep_events: int = 1000) -> None:
        self._models = _Models()
        self._progress: dict[str, dict[tuple[str, int], int]] = {}
        self.windows = MemoryWindowStore(self._models)
        self.labels = MemoryLabelStore(lambda m: self._models[m].labels, lambda m: self._models[m].detector_states)
        self.leases = MemoryModelLeases(self._models)
        self.retrain = MemoryRetrainStore(self._models)
        self.history = MemoryHistory(self._models, keep_events=keep_events)

    def progress(self, group: str) -> MemoryProgress:
        return MemoryProgress(self._progress.setdefault(group, {}))

    async def overview(self, model_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        out = {}
        for model_id in model_ids:
            latest = await self.windows.latest(model_id)
            drifting = sum(1 for v in latest.values() if v.get("severity") == "critical")
            out[model_id] = (drifting, len(self._models[model_id].firing))
        return out

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
