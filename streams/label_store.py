"""Redis access for the label path: find the predictions labels refer to, and apply a batch of
labels (detector states, counts, per-window error counts) atomically under the labels watermark."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from driftline.streams import keys
from driftline.streams.redis_client import RedisClient

# KEYS: label watermarks, online states, label counts, then one performance hash per window.
# ARGV: partition, min offset, max offset, ttl, number of state fields, field, state, ...,
#       joined, unmatched, errors, then per window: n, errors (one pair per performance KEY).
_APPLY_LABELS_LUA = """
local wm = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if wm >= tonumber(ARGV[3]) then return 0 end
if wm >= tonumber(ARGV[2]) then return -1 end
local n_states = tonumber(ARGV[5])
local pos = 6
for i = 0, n_states - 1 do redis.call('HSET', KEYS[2], ARGV[pos + 2 * i], ARGV[pos + 2 * i + 1]) end
pos = pos + 2 * n_states
redis.call('HINCRBY', KEYS[3], 'joined', ARGV[pos])
redis.call('HINCRBY', KEYS[3], 'unmatched', ARGV[pos + 1])
redis.call('HINCRBY', KEYS[3], 'errors', ARGV[pos + 2])
pos = pos + 3
for k = 4, #KEYS do
  redis.call('HINCRBY', KEYS[k], 'n', ARGV[pos])
  redis.call('HINCRBY', KEYS[k], 'errors', ARGV[pos + 1])
  redis.call('EXPIRE', KEYS[k], ARGV[4])
  pos = pos + 2
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""


@dataclass
class LabelBatch:
    """What one model's labels from one partition change, applied in one call.

    >>> LabelBatch("m", 0, 10, 12).joined
    0
    """

    model_id: str
    partition: int
    min_offset: int
    max_offset: int
    joined: int = 0
    unmatched: int = 0
    errors: int = 0
    windows: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Performance window id -> (joined labels, errors)."""
    states: dict[str, bytes] = field(default_factory=dict)


class LabelStore:
    """Label-path state beside the sketches (same Redis, same ``{model_id}`` hash tags).

    >>> LabelStore.__name__
    'LabelStore'
    """

    def __init__(self, client: RedisClient, *, window_ttl_seconds: int = 7 * 24 * 3600) -> None:
        self._redis = client
        self._ttl = window_ttl_seconds
        self._apply = client.register_script(_APPLY_LABELS_LUA)

    @property
    def redis(self) -> RedisClient:
        return self._redis

    async def applied_offsets(self, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for model_id, partition in pairs:
                pipe.hget(keys.label_watermarks(model_id), str(partition))
            values = await pipe.execute()
        return {pair: int(v) for pair, v in zip(pairs, values, strict=True) if v is not None}

    async def find_predictions(
        self, model_id: str, labels: Sequence[tuple[str, float]], ttl_seconds: float
    ) -> dict[str, bytes]:
        """prediction_id -> the stored prediction, for labels ``(prediction_id, label time)``: each label is looked
        up in the days from its own time minus the TTL to a day after it (clock skew), newest first.

        Per label, not over the batch's whole span: one label stamped 1970 next to labels of today must cost its
        own few days, not every day in between.
        """
        wanted: dict[int, set[str]] = {}
        for pid, ts in labels:
            for day in range(keys.prediction_bucket(ts - ttl_seconds), keys.prediction_bucket(ts) + 2):
                wanted.setdefault(day, set()).add(pid)
        if not wanted:
            return {}
        days = sorted(wanted, reverse=True)  # newest first
        asked = {day: sorted(wanted[day]) for day in days}
        async with self._redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hmget(keys.predictions(model_id, day), asked[day])
            rows = await pipe.execute()
        found: dict[str, bytes] = {}
        for day, row in zip(days, rows, strict=True):
            for pid, value in zip(asked[day], row, strict=True):
                if value is not None and pid not in found:
                    found[pid] = value
        return found

    async def states(self, model_id: str, fields: Sequence[str]) -> dict[str, bytes]:
        values = await self._redis.hmget(keys.online_states(model_id), list(fields)) if fields else []
        return {f: v for f, v in zip(fields, values, strict=True) if v is not None}

    async def apply(self, batch: LabelBatch) -> int:
        """1 applied, 0 already applied (a redelivery), -1 overlapping the watermark (re-plan)."""
        window_ids = sorted(batch.windows)
        model = batch.model_id
        key_list = [keys.label_watermarks(model), keys.online_states(model), keys.label_counts(model),
                    *(keys.performance_window(model, w) for w in window_ids)]
        args: list[str | int | bytes] = [batch.partition, batch.min_offset, batch.max_offset, self._ttl,
                                         len(batch.states)]
        for name, value in batch.states.items():
            args += [name, value]
        args += [batch.joined, batch.unmatched, batch.errors]
        for window_id in window_ids:
            args += list(batch.windows[window_id])
        return int(await self._apply(keys=key_list, args=args))

    async def counts(self, model_id: str) -> dict[str, int]:
        raw = await self._redis.hgetall(keys.label_counts(model_id))
        return {k.decode(): int(v) for k, v in raw.items()}

    async def performance(self, model_id: str, window_id: int) -> tuple[int, int]:
        """(joined labels, errors) of one performance window."""
        raw = await self._redis.hgetall(keys.performance_window(model_id, window_id))
        return int(raw.get(b"n", 0)), int(raw.get(b"errors", 0))
