"""The sketch store: window histograms, watermarks and references in Redis.

Every batch for one model from one partition is applied by one Lua call that
adds the increments AND advances that partition's watermark, so a redelivered
batch is a no-op and at-least-once delivery never double-counts. Events whose
window has already been closed are counted as late instead of changing a
window whose alert is already out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from pydantic import SecretStr

from driftline.config.settings import RedisSettings
from driftline.detectors.policies.alert_policy import AlertState
from driftline.detectors.reference import ModelReference
from driftline.detectors.window_check import FeatureWindow
from driftline.streams import keys
from driftline.streams.batch import COUNT_FIELD, ModelBatch, WarmupBatch
from driftline.streams.history import window_entry_id, window_point
from driftline.streams.redis_client import RedisClient, redis_client

# KEYS: watermarks, partition event times, open windows, closed windows, late counter, online states,
#       closed floor, then one hash per window, then one predictions hash per day.
# ARGV: partition, min offset, max offset, max event time, bucket ttl, number of windows, predictions ttl,
#       number of online state fields, bucket seconds (0: no expiry), lateness seconds,
#       partitions expected to carry the model (0: whichever have carried it),
#       then field, state, ... (online detectors),
#       then per window: window id, number of fields, field, increment, ...
#       then per day: number of predictions, prediction id, prediction json, ...
# A window is late when it is closed (in the closed set, or at or below the floor the set was trimmed to),
# or when it never opened and the model's event-time horizon (as closable_windows computes it, before this
# batch) has passed it: it would have been closed already.
_APPLY_LUA = """
local wm = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if wm >= tonumber(ARGV[3]) then return 0 end
if wm >= tonumber(ARGV[2]) then return -1 end
local ttl = tonumber(ARGV[5])
local n_windows = tonumber(ARGV[6])
local n_online = tonumber(ARGV[8])
local bucket = tonumber(ARGV[9])
local horizon = nil
if bucket > 0 then
  local times = redis.call('HVALS', KEYS[2])
  if #times >= tonumber(ARGV[11]) then
    for _, t in ipairs(times) do
      local h = tonumber(t) - tonumber(ARGV[10])
      if horizon == nil or h < horizon then horizon = h end
    end
  end
end
local floor = tonumber(redis.call('GET', KEYS[7]) or '-1e308')
local pos = 12
for i = 0, n_online - 1 do
  redis.call('HSET', KEYS[6], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1])
end
pos = pos + 2 * n_online
for k = 8, 7 + n_windows do
  local window_id = ARGV[pos]
  local n_fields = tonumber(ARGV[pos + 1])
  pos = pos + 2
  local late = tonumber(window_id) <= floor or redis.call('SISMEMBER', KEYS[4], window_id) == 1
  if not late and horizon ~= nil and (tonumber(window_id) + 1) * bucket <= horizon then
    late = redis.call('SISMEMBER', KEYS[3], window_id) == 0
  end
  if late then
    for i = 0, n_fields - 1 do
      if ARGV[pos + 2 * i] == '__n__' then redis.call('INCRBY', KEYS[5], ARGV[pos + 2 * i + 1]) end
    end
  else
    for i = 0, n_fields - 1 do
      redis.call('HINCRBY', KEYS[k], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1])
    end
    redis.call('EXPIRE', KEYS[k], ttl)
    redis.call('SADD', KEYS[3], window_id)
  end
  pos = pos + 2 * n_fields
end
for k = 8 + n_windows, #KEYS do
  local n = tonumber(ARGV[pos])
  pos = pos + 1
  for i = 0, n - 1 do
    redis.call('HSET', KEYS[k], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1])
  end
  redis.call('EXPIRE', KEYS[k], ARGV[7])
  pos = pos + 2 * n
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
local pts = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1e308')
if tonumber(ARGV[4]) > pts then redis.call('HSET', KEYS[2], ARGV[1], ARGV[4]) end
return 1
"""


# KEYS: watermarks, warm-up list, reference.  ARGV: partition, min offset, max offset, ttl, rows...
_WARMUP_LUA = """
if redis.call('EXISTS', KEYS[3]) == 1 then return -2 end
local wm = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if wm >= tonumber(ARGV[3]) then return redis.call('LLEN', KEYS[2]) end
if wm >= tonumber(ARGV[2]) then return -1 end
for i = 5, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return redis.call('LLEN', KEYS[2])
"""

# KEYS: close lease, alert states, latest, closed windows, open windows, window history, closed floor,
#       then the buckets no later window reads (they expire sooner, see CLOSED_BUCKET_TTL_SECONDS).
# ARGV: lease token ('': unfenced), window id, closed ids kept, history length kept (0: none), history entry id,
#       number of alert states, of latest statistics, of history fields, then those fields and values,
#       then the closed buckets' TTL.
# Returns 1 when closed, 0 when the lease is no longer this token's (nothing written), 2 when already closed.
# The closed set keeps the newest ids only: at twice that many, the older ones go and the floor rises to
# them (the apply script treats every window at or below the floor as closed), so the set stays small.
_CLOSE_LUA = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('SISMEMBER', KEYS[4], ARGV[2]) == 1 then return 2 end
local n_states, n_latest, n_history = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local pos = 9
for i = 0, n_states - 1 do redis.call('HSET', KEYS[2], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1]) end
pos = pos + 2 * n_states
for i = 0, n_latest - 1 do redis.call('HSET', KEYS[3], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1]) end
pos = pos + 2 * n_latest
if tonumber(ARGV[4]) > 0 then
  -- an id not above the stream's last one is a window already kept (a replay after a restore): skipped
  pcall(redis.call, 'XADD', KEYS[6], 'MAXLEN', '~', ARGV[4], ARGV[5], unpack(ARGV, pos, pos + n_history - 1))
end
redis.call('SADD', KEYS[4], ARGV[2])
redis.call('SREM', KEYS[5], ARGV[2])
local keep = tonumber(ARGV[3])
if keep > 0 and redis.call('SCARD', KEYS[4]) >= 2 * keep then
  local limit = tonumber(ARGV[2]) - keep
  local floor = tonumber(redis.call('GET', KEYS[7]) or '-1e308')
  for _, w in ipairs(redis.call('SMEMBERS', KEYS[4])) do
    local id = tonumber(w)
    if id <= limit then
      redis.call('SREM', KEYS[4], w)
      if id > floor then floor = id end
    end
  end
  redis.call('SET', KEYS[7], string.format('%d', floor))
end
for k = 8, #KEYS do redis.call('EXPIRE', KEYS[k], ARGV[#ARGV]) end
return 1
"""

REFERENCE_EXISTS = -2

CLOSED_KEPT = 256
"""Closed window ids kept per model (fewer than twice as many: an intset in Redis up to 512, 8 bytes an id).
Older ones are behind the floor: see :data:`_CLOSE_LUA`."""

CLOSED_BUCKET_TTL_SECONDS = 3600
"""How long a bucket lives once the last window that reads it has closed (it is written only while open: later
events for it are late). Long enough to inspect a window's counts (and for the fault tests' exactness checks),
short enough that a model's memory is its open windows plus an hour, not the bucket TTL (7 days) of windows.
A bucket not reached this way (a gap of a window or more before the next closed window) keeps the bucket TTL."""


class CloseResult(IntEnum):
    CLOSED = 1
    LEASE_LOST = 0
    ALREADY_CLOSED = 2


class ApplyResult(IntEnum):
    APPLIED = 1
    ALREADY_APPLIED = 0
    OVERLAPS_WATERMARK = -1


@dataclass(frozen=True)
class WindowCounts:
    """One closed window's counts, per feature: bin index (or ``"null"``) -> count."""

    window_id: int
    n_events: int
    features: dict[str, dict[str, int]]


class SketchStore:
    """Async access to one Redis (or Redis Cluster slot per model) holding driftline state."""

    def __init__(self, client: RedisClient, *, bucket_ttl_seconds: int = 7 * 24 * 3600,
                 closed_bucket_ttl_seconds: int = CLOSED_BUCKET_TTL_SECONDS) -> None:
        self._redis = client
        self._ttl = bucket_ttl_seconds
        self._closed_ttl = closed_bucket_ttl_seconds
        self._apply = client.register_script(_APPLY_LUA)
        self._warmup = client.register_script(_WARMUP_LUA)
        self._close = client.register_script(_CLOSE_LUA)

    @classmethod
    def from_url(cls, url: str, *, cluster: bool = False, **kwargs: object) -> SketchStore:
        """A store on the Redis at ``url`` (``cluster``: a node of a Redis Cluster); the URL alone, nothing read
        from the environment (:meth:`from_settings` takes credentials and TLS files)."""
        settings = RedisSettings(url=SecretStr(url), cluster=cluster, username=None, password=None,
                                 ssl_ca_certs=None, ssl_certfile=None, ssl_keyfile=None)
        return cls.from_settings(settings, **kwargs)

    @classmethod
    def from_settings(cls, settings: RedisSettings, **kwargs: object) -> SketchStore:
        """A store on the Redis these settings name, with their credentials and TLS files."""
        return cls(redis_client(settings), **kwargs)  # type: ignore[arg-type]

    @property
    def redis(self) -> RedisClient:
        """The client, for the steps that keep state of their own beside the sketches."""
        return self._redis

    async def close(self) -> None:
        await self._redis.aclose()

    async def put_reference(self, reference: ModelReference) -> None:
        await self._redis.set(keys.reference(reference.model_id), reference.to_json())

    async def get_reference(self, model_id: str) -> ModelReference | None:
        raw = await self._redis.get(keys.reference(model_id))
        return ModelReference.from_json(raw) if raw is not None else None

    async def applied_offsets(self, pairs: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Last applied offset per (model, partition); absent pairs are left out."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for model_id, partition in pairs:
                pipe.hget(keys.watermarks(model_id), str(partition))
            values = await pipe.execute()
        return {pair: int(v) for pair, v in zip(pairs, values, strict=True) if v is not None}

    async def apply(self, batch: ModelBatch, *, bucket_seconds: int = 0, lateness_seconds: int = 0,
                    expected_partitions: int = 0) -> ApplyResult:
        """Add the batch's counts (windows already passed by: to the late counter) and move the watermark,
        atomically; a no-op when the watermark says the batch is in. ``bucket_seconds`` 0: closed windows are
        the only late ones. ``expected_partitions``: as in :meth:`closable_windows`."""
        window_ids = sorted(batch.windows)
        days = sorted(batch.predictions)
        key_list = [
            keys.watermarks(batch.model_id),
            keys.partition_event_times(batch.model_id),
            keys.open_windows(batch.model_id),
            keys.closed_windows(batch.model_id),
            keys.late_events(batch.model_id),
            keys.online_states(batch.model_id),
            keys.closed_floor(batch.model_id),
            *(keys.window_counts(batch.model_id, w) for w in window_ids),
            *(keys.predictions(batch.model_id, day) for day in days),
        ]
        # Predictions live for the label TTL past the end of their day (labels look back that far).
        predictions_ttl = batch.keep_predictions_seconds + keys.PREDICTION_BUCKET_SECONDS
        args: list[str | int | float | bytes] = [
            batch.partition, batch.min_offset, batch.max_offset, repr(batch.max_event_time), self._ttl,
            len(window_ids), predictions_ttl, len(batch.online_states), bucket_seconds, lateness_seconds,
            expected_partitions,
        ]
        for name, value in batch.online_states.items():
            args += [name, value]
        for window_id in window_ids:
            counts = batch.windows[window_id]
            args += [window_id, len(counts)]
            for name, value in counts.items():
                args += [name, value]
        for day in days:
            predictions = batch.predictions[day]
            args.append(len(predictions))
            for prediction_id, value in predictions.items():
                args += [prediction_id, value]
        return ApplyResult(int(await self._apply(keys=key_list, args=args)))

    async def apply_warmup(self, batch: WarmupBatch) -> int:
        """Append a warming model's rows under the partition watermark, atomically: the number of rows
        now collected, :data:`REFERENCE_EXISTS` when the model got its reference meanwhile (the batch
        must be re-planned), or -1 when the batch overlaps the watermark."""
        key_list = [keys.watermarks(batch.model_id), keys.warmup_events(batch.model_id), keys.reference(batch.model_id)]
        args: list[str | int | bytes] = [batch.partition, batch.min_offset, batch.max_offset, self._ttl, *batch.rows]
        return int(await self._warmup(keys=key_list, args=args))

    async def warmup_rows(self, model_id: str) -> list[bytes]:
        return list(await self._redis.lrange(keys.warmup_events(model_id), 0, -1))

    async def put_reference_if_absent(self, reference: ModelReference) -> ModelReference:
        """Set the reference unless the model has one; either way, the one it has now (first writer wins)."""
        await self._redis.set(keys.reference(reference.model_id), reference.to_json(), nx=True)
        current = await self.get_reference(reference.model_id)
        assert current is not None
        await self._redis.delete(keys.warmup_events(reference.model_id))
        return current

    async def online_states(self, model_id: str, fields: Sequence[str]) -> dict[str, bytes]:
        """These fields of the model's online detector states (absent ones left out)."""
        values = await self._redis.hmget(keys.online_states(model_id), list(fields)) if fields else []
        return {f: v for f, v in zip(fields, values, strict=True) if v is not None}

    async def closable_windows(self, model_id: str, *, window_seconds: int, lateness_seconds: int,
                               expected_partitions: int = 0) -> list[int]:
        """Open windows whose end plus the allowed lateness is behind the model's event-time horizon:
        the smallest of its partitions' event times, so no partition still owes events to them.

        ``expected_partitions`` > 0 (a model spread over every partition of the topic): none until that many
        partitions have carried the model, so a partition not read yet cannot be passed over.
        """
        times = await self._redis.hvals(keys.partition_event_times(model_id))
        if not times or len(times) < expected_partitions:
            return []
        open_ids = await self._redis.smembers(keys.open_windows(model_id))
        horizon = min(float(t) for t in times) - lateness_seconds
        return sorted(w for w in (int(x) for x in open_ids) if (w + 1) * window_seconds <= horizon)

    async def read_window(self, model_id: str, window_id: int) -> WindowCounts:
        return await self.read_windows(model_id, [window_id])

    async def read_windows(self, model_id: str, window_ids: Iterable[int]) -> WindowCounts:
        """The counts of these windows (buckets) added up: one sliding window, or one tumbling window.
        Reported under the last window id."""
        ids = list(window_ids)
        async with self._redis.pipeline(transaction=False) as pipe:
            for window_id in ids:
                pipe.hgetall(keys.window_counts(model_id, window_id))
            raws = await pipe.execute()
        features: dict[str, dict[str, int]] = {}
        n_events = 0
        for raw in raws:
            for field_b, value_b in raw.items():
                name = field_b.decode()
                if name == COUNT_FIELD:
                    n_events += int(value_b)
                    continue
                if name.startswith(COUNT_FIELD):  # a segment's event count
                    continue
                feature, _, bin_name = name.rpartition(":")
                bins = features.setdefault(feature, {})
                bins[bin_name] = bins.get(bin_name, 0) + int(value_b)
        return WindowCounts(window_id=ids[-1], n_events=n_events, features=features)

    async def alert_states(self, model_id: str) -> dict[str, AlertState]:
        raw = await self._redis.hgetall(keys.alert_states(model_id))
        return {k.decode(): AlertState.from_dict(json.loads(v)) for k, v in raw.items()}

    async def close_window(
        self,
        model_id: str,
        window_id: int,
        window_end: float,
        results: Sequence[FeatureWindow],
        states: Mapping[str, AlertState],
        *,
        window_start: float | None = None,
        history_windows: int = 0,
        lease: str = "",
        buckets_per_window: int = 1,
    ) -> CloseResult:
        """After its alerts are published, in one script: the window's alert states, latest statistics and
        history entry (when ``history_windows`` > 0, keeping that many) are stored and the window is closed
        (later events for it count as late) — only while ``lease`` still holds the model's close lease
        (streams/model_lock.py; '' closes unfenced). A crash before this replays the window from the old
        states: same alerts, same ids.

        The buckets no later window reads (``buckets_per_window`` > 1: a sliding window's) get
        ``closed_bucket_ttl_seconds``: this window's first, and the ones before it a gap of fewer than a
        window's buckets may have left (their window ends had no events, so nothing closed them)."""
        start = window_end if window_start is None else window_start
        point = window_point(window_id, start, window_end, results).fields() if history_windows > 0 else []
        state_fields = [x for f, st in states.items() for x in (f, json.dumps(st.to_dict()))]
        latest_fields = [x for kv in _latest_mapping(window_id, window_end, results).items() for x in kv]
        key_list = [keys.close_lock(model_id), keys.alert_states(model_id), keys.latest(model_id),
                    keys.closed_windows(model_id), keys.open_windows(model_id), keys.window_history(model_id),
                    keys.closed_floor(model_id),
                    *(keys.window_counts(model_id, b) for b in _done_buckets(window_id, buckets_per_window))]
        args = [lease, window_id, CLOSED_KEPT, history_windows, window_entry_id(window_end),
                len(state_fields) // 2, len(latest_fields) // 2, len(point),
                *state_fields, *latest_fields, *point, self._closed_ttl]
        return CloseResult(int(await self._close(keys=key_list, args=args)))

    async def late_count(self, model_id: str) -> int:
        return int(await self._redis.get(keys.late_events(model_id)) or 0)

    async def closed_window_count(self, model_id: str) -> int:
        return int(await self._redis.scard(keys.closed_windows(model_id)))

    async def latest(self, model_id: str) -> dict[str, dict[str, float]]:
        raw = await self._redis.hgetall(keys.latest(model_id))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    async def model_ids(self) -> list[str]:
        """Every model with a reference (SCAN, so a large keyspace is walked in steps; on a Redis Cluster
        redis-py's ``scan_iter`` walks every primary, each with its own cursor)."""
        scan = self._redis.scan_iter(match=keys.REFERENCE_PATTERN, count=1000)
        return sorted([keys.model_of_reference_key(k.decode()) async for k in scan])


def _latest_mapping(window_id: int, window_end: float, results: Sequence[FeatureWindow]) -> dict[str, str]:
    return {
        r.key: json.dumps({
            "window": window_id,
            "window_end": window_end,
            "test": r.verdict.test,
            "statistic": r.verdict.statistic if math.isfinite(r.verdict.statistic) else None,
            "threshold": r.verdict.threshold,
            "p_value": r.p_value,
            "severity": r.severity,
            "n_current": r.n_current,
        })
        for r in results
    }


def _done_buckets(window_id: int, buckets_per_window: int) -> range:
    """The buckets no window after ``window_id`` reads: its first, and the ``buckets_per_window - 1`` before.

    >>> list(_done_buckets(10, 1)), list(_done_buckets(10, 3))
    ([10], [6, 7, 8])
    """
    first = window_id - buckets_per_window + 1
    return range(first - buckets_per_window + 1, first + 1)
