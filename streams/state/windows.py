"""The Redis window store: bucket counts under partition watermarks, the windows' close, references.

Every batch for one model from one partition is applied by one Lua call (``lua/apply.lua``) that
adds the increments AND advances that partition's watermark, so a redelivered
batch is a no-op and at-least-once delivery never double-counts. Events whose
window has already been closed are counted as late instead of changing a
window whose alert is already out. A window's close is one fenced Lua call (``lua/close.lua``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from pydantic import SecretStr

from driftline.config import RedisSettings
from driftline.detectors import AlertState, ModelReference
from driftline.streams.state import keys
from driftline.streams.state.client import RedisClient, raw, redis_client, text
from driftline.streams.state.history import window_entry_id
from driftline.streams.state.label_values import (
    counter_arg,
    lag_bin,
    performance_ttl,
)
from driftline.streams.state.lua import script
from driftline.streams.state.ports import (
    COUNT_FIELD,
    PREDICTION_BUCKET_SECONDS,
    UNBOUNDED,
    ApplyResult,
    BucketLayout,
    CloseResult,
    ModelBatch,
    WarmupBatch,
    WindowClose,
    WindowCounts,
)

CLOSED_KEPT = 256
"""Closed window ids kept per model (fewer than twice as many: an intset in Redis up to 512, 8 bytes an id).
Older ones are behind the floor: see ``lua/close.lua``."""

CLOSED_BUCKET_TTL_SECONDS = 3600
"""How long a bucket lives once the last window that reads it has closed (it is written only while open: later
events for it are late). Long enough to inspect a window's counts (and for the fault tests' exactness checks),
short enough that a model's memory is its open windows plus an hour, not the bucket TTL (7 days) of windows.
A bucket not reached this way (a gap of a window or more before the next closed window) keeps the bucket TTL."""

DEFAULT_BUCKET_TTL_SECONDS = 7 * 24 * 3600


class RedisWindowStore:
    """The :class:`~driftline.streams.state.ports.WindowStore` on one Redis (or a Redis Cluster: one slot per
    model, by the ``{model_id}`` hash tag of every key)."""

    def __init__(self, client: RedisClient, *, bucket_ttl_seconds: int = DEFAULT_BUCKET_TTL_SECONDS,
                 closed_bucket_ttl_seconds: int = CLOSED_BUCKET_TTL_SECONDS) -> None:
        self._redis = client
        self._ttl = bucket_ttl_seconds
        self._closed_ttl = closed_bucket_ttl_seconds
        self._apply = client.register_script(script("apply"))
        self._warmup = client.register_script(script("warmup"))
        self._close = client.register_script(script("close"))
        self._expect_features = client.register_script(script("expect_features"))

    @classmethod
    def from_url(cls, url: str, *, cluster: bool = False, **kwargs: int) -> RedisWindowStore:
        """A store on the Redis at ``url`` (``cluster``: a node of a Redis Cluster); the URL alone, nothing read
        from the environment (:meth:`from_settings` takes credentials and TLS files)."""
        settings = RedisSettings(url=SecretStr(url), cluster=cluster, username=None, password=None,
                                 ssl_ca_certs=None, ssl_certfile=None, ssl_keyfile=None)
        return cls.from_settings(settings, **kwargs)

    @classmethod
    def from_settings(cls, settings: RedisSettings, **kwargs: int) -> RedisWindowStore:
        """A store on the Redis these settings name, with their credentials and TLS files."""
        return cls(redis_client(settings), **kwargs)

    @property
    def redis(self) -> RedisClient:
        """The client, for tests that look at the keys themselves (nothing outside ``state/`` uses it)."""
        return self._redis

    async def close(self) -> None:
        await self._redis.aclose()

    async def put_reference(self, reference: ModelReference) -> None:
        """The model's current reference; the version is kept apart for :data:`REFERENCE_VERSIONS_KEPT_SECONDS`
        too, so windows binned on it are judged on it after a newer one replaces it."""
        value = reference.to_json()
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.reference_version(reference.model_id, reference.version), value,
                     ex=REFERENCE_VERSIONS_KEPT_SECONDS)
            pipe.set(keys.reference(reference.model_id), value)
            await pipe.execute()

    async def get_reference_version(self, model_id: str, version: str) -> ModelReference | None:
        """That version of the model's reference: the current one, or one kept since it was replaced."""
        raw_ = await self._redis.get(keys.reference_version(model_id, version))
        if raw_ is not None:
            return ModelReference.from_json(raw_)
        current = await self.get_reference(model_id)
        return current if current is not None and current.version == version else None

    async def get_reference(self, model_id: str) -> ModelReference | None:
        raw = await self._redis.get(keys.reference(model_id))
        return ModelReference.from_json(raw) if raw is not None else None

    async def put_reference_if_absent(self, reference: ModelReference) -> ModelReference:
        """Set the reference unless the model has one; either way, the one it has now (first writer wins)."""
        await self._redis.set(keys.reference(reference.model_id), reference.to_json(), nx=True)
        current = await self.get_reference(reference.model_id)
        assert current is not None
        await self._redis.set(keys.reference_version(current.model_id, current.version), current.to_json(),
                              ex=REFERENCE_VERSIONS_KEPT_SECONDS)
        await self._redis.delete(keys.warmup_events(reference.model_id))
        return current

    async def model_ids(self) -> list[str]:
        """Every model with a reference (SCAN, so a large keyspace is walked in steps; on a Redis Cluster
        redis-py's ``scan_iter`` walks every primary, each with its own cursor)."""
        scan = self._redis.scan_iter(match=keys.REFERENCE_PATTERN, count=1000)
        return sorted([keys.model_of_reference_key(k.decode()) async for k in scan])

    async def applied_offsets(self, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Last applied offset per (model, partition); absent pairs are left out."""
        return await hget_each(self._redis, [(keys.watermarks(m), str(p)) for m, p in pairs], pairs)

    async def apply(self, batch: ModelBatch, layout: BucketLayout = UNBOUNDED,
                    detector_states: Mapping[str, bytes] | None = None) -> ApplyResult:
        """Add the batch's counts (buckets already passed by: to the late counter), store the detector states
        and move the watermark, atomically; a no-op when the watermark says the batch is in. ``layout``
        ``bucket_seconds`` 0: closed windows are the only late ones; ``expected_partitions``: as in
        :meth:`closable_buckets`."""
        states = detector_states or {}
        bucket_ids = sorted(batch.buckets)
        days = sorted(batch.predictions)
        m = batch.model_id
        joins = batch.keep_predictions_seconds > 0
        perf_ids = sorted(batch.predicted) if joins else []
        key_list = [
            keys.watermarks(m), keys.partition_event_times(m), keys.open_windows(m), keys.closed_windows(m),
            keys.late_events(m), keys.detector_states(m), keys.closed_floor(m),
            *(keys.bucket_counts(m, b) for b in bucket_ids),
            *(keys.predictions(m, day) for day in days),
        ]
        if joins:
            key_list += [keys.pending_labels(m), keys.pending_due(m), keys.label_counts(m), keys.prediction_days(m),
                         keys.performance_index(m), *(keys.performance_window(m, w) for w in perf_ids)]
        # A day's predictions live the retention past the day's last write (labels look in every kept day).
        predictions_ttl = batch.keep_predictions_seconds + PREDICTION_BUCKET_SECONDS
        args: list[str | int | float | bytes] = [
            batch.partition, batch.min_offset, batch.max_offset, repr(batch.max_event_time), self._ttl,
            len(bucket_ids), predictions_ttl, len(states), layout.bucket_seconds, layout.lateness_seconds,
            layout.expected_partitions, len(days),
        ]
        for name, value in states.items():
            args += [name, value]
        for bucket_id in bucket_ids:
            counts = batch.buckets[bucket_id]
            args += [bucket_id, batch.versions.get(bucket_id, ""), len(counts)]
            for name, count in counts.items():
                args += [name, count]
        for day in days:
            predictions = batch.predictions[day]
            args += [day, len(predictions)]
            for prediction_id, value in predictions.items():
                args += [prediction_id, value]
        if not joins:
            args.append(0)
        else:
            expiry = int(batch.now) + predictions_ttl
            args += [1, expiry, performance_ttl(batch.keep_predictions_seconds, self._ttl), len(perf_ids)]
            for w in perf_ids:
                args += [w, batch.predicted[w]]
            position = {w: i + 1 for i, w in enumerate(perf_ids)}
            args.append(len(batch.joins))
            for join in batch.joins:
                args += [join.prediction_id, position[join.window_id], lag_bin(join.lag_seconds), len(join.counts)]
                for name, increment in join.counts.items():
                    args += [name, counter_arg(increment)]
        return ApplyResult(int(await self._apply(keys=key_list, args=args)))

    async def apply_warmup(self, batch: WarmupBatch) -> int:
        """Append a warming model's rows under the partition watermark, atomically: the number of rows
        now collected, :data:`~driftline.streams.state.ports.REFERENCE_EXISTS` when the model got its
        reference meanwhile (the batch must be re-planned), or -1 when the batch overlaps the watermark."""
        key_list = [keys.watermarks(batch.model_id), keys.warmup_events(batch.model_id), keys.reference(batch.model_id)]
        args: list[str | int | bytes] = [batch.partition, batch.min_offset, batch.max_offset, self._ttl, *batch.rows]
        return int(await self._warmup(keys=key_list, args=args))

    async def warmup_rows(self, model_id: str) -> list[bytes]:
        return [raw(row) for row in await self._redis.lrange(keys.warmup_events(model_id), 0, -1)]

    async def detector_states(self, model_id: str, fields: Sequence[str]) -> dict[str, bytes]:
        """These fields of the model's online detector states (absent ones left out)."""
        return await hmget_present(self._redis, keys.detector_states(model_id), fields)

    async def closable_buckets(self, model_id: str, *, bucket_seconds: int, lateness_seconds: int,
                               expected_partitions: int = 0, horizon: float | None = None,
                               features_stale_before: float | None = None) -> list[int]:
        """The last buckets of open windows whose end plus the allowed lateness is behind the model's event-time
        horizon: the smallest of its partitions' event times, so no partition still owes events to them.

        ``expected_partitions`` > 0 (a model spread over every partition of the topic): none until that many
        partitions have carried the model, so a partition not read yet cannot be passed over. ``horizon``: that
        event time instead (a quiet stream's, estimated from the wall clock).
        """
        if horizon is None:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(keys.partition_event_times(model_id))
                pipe.hgetall(keys.features_seen(model_id))
                times, seen = await pipe.execute()
            stale = [int(text(p)) for p, t in seen.items()
                     if features_stale_before is not None and float(t) < features_stale_before]
            horizon = event_horizon({int(text(p)): float(t) for p, t in times.items()}, expected_partitions, stale)
            if horizon is None:
                return []
        open_ids = await self._redis.smembers(keys.open_windows(model_id))
        passed = horizon - lateness_seconds
        return sorted(w for w in (int(x) for x in open_ids) if (w + 1) * bucket_seconds <= passed)

    async def note_features(self, model_id: str, partition: int, wall_time: float) -> None:
        """A batch of the model's FeatureEvents from this (features) partition was applied at ``wall_time``
        (its event time is in the partition event times, by the apply): the placeholder goes."""
        placeholder = str(keys.FEATURES_EXPECTED)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.features_seen(model_id), str(partition), repr(wall_time))
            pipe.hdel(keys.partition_event_times(model_id), placeholder)
            pipe.hdel(keys.features_seen(model_id), placeholder)
            await pipe.execute()

    async def expect_features(self, model_id: str, event_time: float, wall_time: float) -> bool:
        key_list = [keys.partition_event_times(model_id), keys.features_seen(model_id)]
        args: list[str | int] = [keys.FEATURES_EXPECTED, repr(event_time), repr(wall_time)]
        return bool(await self._expect_features(keys=key_list, args=args))

    async def read_bucket(self, model_id: str, bucket_id: int) -> WindowCounts:
        return await self.read_buckets(model_id, [bucket_id])

    async def read_buckets(self, model_id: str, bucket_ids: Iterable[int]) -> WindowCounts:
        """The counts of these buckets added up: one sliding window, or one tumbling window (one bucket).
        Reported under the last bucket's id, which is the window's id."""
        ids = list(bucket_ids)
        async with self._redis.pipeline(transaction=False) as pipe:
            for bucket_id in ids:
                pipe.hgetall(keys.bucket_counts(model_id, bucket_id))
            raws = await pipe.execute()
        buckets = [{text(k): v for k, v in fields.items()} for fields in raws]
        versions = frozenset(text(fields.pop(VERSION_FIELD)) for fields in buckets if VERSION_FIELD in fields)
        counts = add_up_buckets(ids[-1], ({k: int(v) for k, v in fields.items()} for fields in buckets))
        return dataclasses.replace(counts, versions=versions)

    async def bucket_versions(self, model_id: str, bucket_ids: Sequence[int]) -> dict[int, str]:
        """The reference version each of these buckets is binned on (buckets not written yet left out)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for bucket_id in bucket_ids:
                pipe.hget(keys.bucket_counts(model_id, bucket_id), VERSION_FIELD)
            pinned = await pipe.execute()
        return {b: text(v) for b, v in zip(bucket_ids, pinned, strict=True) if v is not None}

    async def alert_states(self, model_id: str) -> dict[str, AlertState]:
        stored = await self._redis.hgetall(keys.alert_states(model_id))
        return {text(k): AlertState.from_dict(json.loads(v)) for k, v in stored.items()}

    async def close_window(self, model_id: str, close: WindowClose, *, lease: str = "") -> CloseResult:
        """After its alerts are published, in one script: the window's alert states, latest statistics and
        history entry (when ``close.point`` is set, keeping ``close.history_windows``) are stored and the window
        is closed (later events for it count as late) — only while ``lease`` still holds the model's lease
        (:mod:`driftline.streams.state.lease`; '' closes unfenced). A crash before this replays the window from
        the old states: same alerts, same ids.

        The buckets no later window reads (``close.buckets_per_window`` > 1: a sliding window's) get
        ``closed_bucket_ttl_seconds``: this window's first, and the ones before it a gap of fewer than a
        window's buckets may have left (their window ends had no events, so nothing closed them)."""
        point = close.point.fields() if close.point is not None and close.history_windows > 0 else []
        state_fields = [x for f, st in close.states.items() for x in (f, json.dumps(st.to_dict()))]
        latest_fields = [x for kv in close.latest.items() for x in kv]
        key_list = [keys.model_lease(model_id), keys.alert_states(model_id), keys.latest(model_id),
                    keys.closed_windows(model_id), keys.open_windows(model_id), keys.window_history(model_id),
                    keys.closed_floor(model_id),
                    *(keys.bucket_counts(model_id, b) for b in done_buckets(close.window_id,
                                                                            close.buckets_per_window))]
        args: list[str | int | float] = [lease, close.window_id, CLOSED_KEPT, close.history_windows if point else 0,
                window_entry_id(close.window_end), len(state_fields) // 2, len(latest_fields) // 2, len(point),
                *state_fields, *latest_fields, *point, self._closed_ttl]
        return CloseResult(int(await self._close(keys=key_list, args=args)))

    async def late_count(self, model_id: str) -> int:
        return int(await self._redis.get(keys.late_events(model_id)) or 0)

    async def closed_window_count(self, model_id: str) -> int:
        return int(await self._redis.scard(keys.closed_windows(model_id)))

    async def pending_labels(self, model_id: str, prediction_ids: Sequence[str]) -> dict[str, bytes]:
        """The labels waiting for these predictions (one EXISTS when no label waits, as is usual)."""
        key = keys.pending_labels(model_id)
        if not prediction_ids or not await self._redis.exists(key):
            return {}
        values = await self._redis.hmget(key, list(prediction_ids))
        return {pid: raw(v) for pid, v in zip(prediction_ids, values, strict=True) if v is not None}

    async def latest(self, model_id: str) -> dict[str, dict[str, Any]]:
        stored = await self._redis.hgetall(keys.latest(model_id))
        return {text(k): json.loads(v) for k, v in stored.items()}


VERSION_FIELD = "__v__"
"""A bucket's field naming the reference version its counts are binned on (set by its first apply)."""
REFERENCE_VERSIONS_KEPT_SECONDS = 30 * 86_400


def event_horizon(times: Mapping[int, float], expected_partitions: int = 0,
                  stale: Collection[int] = ()) -> float | None:
    """A model's event-time horizon from its partitions' event times: the smallest over the predictions topic's
    partitions (``expected_partitions`` of them at least) and the features topic's
    (:func:`~driftline.streams.state.keys.features_partition`, negative), so a window closes once both inputs
    have passed it — except the features partitions in ``stale`` (quiet by the wall clock while predictions
    come), which no longer hold it open: their later events count as late. A model that sends only features is
    judged on them. None while no horizon is known. apply.lua computes it without ``stale`` (never stricter
    than this: a bucket it takes for open, the closer closes).

    >>> event_horizon({0: 50.0, 1: 40.0, -1: 10.0}), event_horizon({0: 50.0, -1: 10.0}, stale=[-1])
    (10.0, 50.0)
    >>> event_horizon({-1: 10.0, -2: 30.0}), event_horizon({0: 5.0}, 2), event_horizon({})
    (10.0, None, None)
    """
    predictions = [t for p, t in times.items() if p >= 0]
    if len(predictions or times) < max(expected_partitions, 1):
        return None
    chosen = [t for p, t in times.items() if p >= 0 or p not in stale or not predictions]
    return min(chosen)


def add_up_buckets(window_id: int, buckets: Iterable[Mapping[str, int]]) -> WindowCounts:
    """Buckets' fields added up into one window's counts per feature (segment event counts left out).

    >>> add_up_buckets(1, [{"__n__": 2, "x:0": 2}, {"__n__": 1, "x:1": 1, "x:null": 1}]).features
    {'x': {'0': 2, '1': 1, 'null': 1}}
    """
    features: dict[str, dict[str, int]] = {}
    n_events = 0
    for counts in buckets:
        for name, value in counts.items():
            if name == COUNT_FIELD:
                n_events += value
                continue
            if name.startswith(COUNT_FIELD):  # a segment's event count
                continue
            feature, _, bin_name = name.rpartition(":")
            bins = features.setdefault(feature, {})
            bins[bin_name] = bins.get(bin_name, 0) + value
    return WindowCounts(window_id=window_id, n_events=n_events, features=features)


def done_buckets(window_id: int, buckets_per_window: int) -> range:
    """The buckets no window after ``window_id`` reads: its first, and the ``buckets_per_window - 1`` before.

    >>> list(done_buckets(10, 1)), list(done_buckets(10, 3))
    ([10], [6, 7, 8])
    """
    first = window_id - buckets_per_window + 1
    return range(first - buckets_per_window + 1, first + 1)


async def hget_each(client: RedisClient, fields: Sequence[tuple[str, str]],
                    pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """One pipelined HGET per (key, field); the integer answers by their pair, absent ones left out (the
    watermark reads of both processors)."""
    async with client.pipeline(transaction=False) as pipe:
        for key, name in fields:
            pipe.hget(key, name)
        values = await pipe.execute()
    return {pair: int(v) for pair, v in zip(pairs, values, strict=True) if v is not None}


async def hmget_present(client: RedisClient, key: str, fields: Sequence[str]) -> dict[str, bytes]:
    """These fields of a hash, absent ones left out."""
    values = await client.hmget(key, list(fields)) if fields else []
    return {f: raw(v) for f, v in zip(fields, values, strict=True) if v is not None}
