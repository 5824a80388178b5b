"""The Redis label store: find the predictions labels refer to, and apply a batch of labels (detector
states, counts, per-window error counts) atomically under the labels watermark (``lua/apply_labels.lua``)."""

from __future__ import annotations

from collections.abc import Sequence

from driftline.streams.state import keys
from driftline.streams.state.client import RedisClient, text
from driftline.streams.state.lua import script
from driftline.streams.state.ports import ApplyResult, LabelBatch, prediction_bucket
from driftline.streams.state.windows import DEFAULT_BUCKET_TTL_SECONDS, hget_each, hmget_present


class RedisLabelStore:
    """The :class:`~driftline.streams.state.ports.LabelStore` beside the window store (same Redis, same
    ``{model_id}`` hash tags)."""

    def __init__(self, client: RedisClient, *, window_ttl_seconds: int = DEFAULT_BUCKET_TTL_SECONDS) -> None:
        self._redis = client
        self._ttl = window_ttl_seconds
        self._apply = client.register_script(script("apply_labels"))

    async def applied_offsets(self, pairs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        return await hget_each(self._redis, [(keys.label_watermarks(m), str(p)) for m, p in pairs], pairs)

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
            for day in range(prediction_bucket(ts - ttl_seconds), prediction_bucket(ts) + 2):
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

    async def detector_states(self, model_id: str, fields: Sequence[str]) -> dict[str, bytes]:
        return await hmget_present(self._redis, keys.detector_states(model_id), fields)

    async def apply(self, batch: LabelBatch) -> ApplyResult:
        """Applied, already applied (a redelivery), or overlapping the watermark (re-plan)."""
        window_ids = sorted(batch.windows)
        model = batch.model_id
        key_list = [keys.label_watermarks(model), keys.detector_states(model), keys.label_counts(model),
                    *(keys.performance_window(model, w) for w in window_ids)]
        args: list[str | int | bytes] = [batch.partition, batch.min_offset, batch.max_offset, self._ttl,
                                         len(batch.states)]
        for name, value in batch.states.items():
            args += [name, value]
        args += [batch.joined, batch.unmatched, batch.errors]
        for window_id in window_ids:
            args += list(batch.windows[window_id])
        return ApplyResult(int(await self._apply(keys=key_list, args=args)))

    async def counts(self, model_id: str) -> dict[str, int]:
        stored = await self._redis.hgetall(keys.label_counts(model_id))
        return {text(k): int(v) for k, v in stored.items()}

    async def performance(self, model_id: str, window_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """(joined labels, errors) of each performance window that has any."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for w in window_ids:
                pipe.hgetall(keys.performance_window(model_id, w))
            raws = await pipe.execute()
        return {w: (int(raw.get(b"n", 0)), int(raw.get(b"errors", 0)))
                for w, raw in zip(window_ids, raws, strict=True) if raw}
