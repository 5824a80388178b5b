"""The Redis label store: find the kept predictions labels refer to, and apply a batch of labels (joins,
labels left waiting for their prediction, detector states) atomically under the labels watermark
(``lua/apply_labels.lua``). The other half of the join, a prediction meeting the label that waited for it,
is in the prediction path's apply (``lua/apply.lua``)."""

from __future__ import annotations

from collections.abc import Sequence

from driftline.streams.state import keys
from driftline.streams.state.client import RedisClient, raw, text
from driftline.streams.state.label_values import (
    KeptPrediction,
    LabelBatch,
    LabelCounts,
    counter_arg,
    lag_bin,
    performance_ttl,
)
from driftline.streams.state.lua import script
from driftline.streams.state.ports import (
    ApplyResult,
)
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
        self, model_id: str, prediction_ids: Sequence[str], now: float
    ) -> tuple[dict[str, KeptPrediction], tuple[int, ...]]:
        """Each id's kept prediction, looked up in every day the model keeps (newest first), whatever the
        label's own time: a label may come months after its prediction. One pipeline: the days, then one
        HMGET per day."""
        members = await self._redis.zrangebyscore(keys.prediction_days(model_id), now, "+inf")
        day_ids = tuple(sorted((int(text(d)) for d in members), reverse=True))  # type: ignore[arg-type]  # no scores
        if not day_ids or not prediction_ids:
            return {}, day_ids
        asked = sorted(set(prediction_ids))
        async with self._redis.pipeline(transaction=False) as pipe:
            for day in day_ids:
                pipe.hmget(keys.predictions(model_id, day), asked)
            rows = await pipe.execute()
        found: dict[str, KeptPrediction] = {}
        for day, row in zip(day_ids, rows, strict=True):
            for pid, value in zip(asked, row, strict=True):
                if value is not None and pid not in found:
                    found[pid] = KeptPrediction(day, value)
        return found, day_ids

    async def detector_states(self, model_id: str, fields: Sequence[str]) -> dict[str, bytes]:
        return await hmget_present(self._redis, keys.detector_states(model_id), fields)

    async def apply(self, batch: LabelBatch) -> ApplyResult:
        """Applied, already applied (a redelivery), overlapping the watermark, or a join race (re-plan)."""
        model = batch.model_id
        perf_ids = sorted({j.window_id for j in batch.joins})
        days = sorted({j.day for j in batch.joins if j.day is not None} | set(batch.days))
        key_list = [keys.label_watermarks(model), keys.detector_states(model), keys.label_counts(model),
                    keys.pending_labels(model), keys.pending_due(model), keys.prediction_days(model),
                    keys.performance_index(model), *(keys.performance_window(model, w) for w in perf_ids),
                    *(keys.predictions(model, d) for d in days)]
        args: list[str | int | float | bytes] = [
            batch.partition, batch.min_offset, batch.max_offset,
            performance_ttl(batch.retention_seconds, self._ttl), len(batch.states)]
        for name, value in batch.states.items():
            args += [name, value]
        args += [repr(batch.now), batch.max_pending, len(perf_ids), *perf_ids, len(days), *days, len(batch.joins)]
        window_at = {w: i + 1 for i, w in enumerate(perf_ids)}
        day_at = {d: i + 1 for i, d in enumerate(days)}
        for join in batch.joins:
            assert join.day is not None, "a label-path join names the day its prediction is kept under"
            args += [join.prediction_id, window_at[join.window_id], day_at[join.day], lag_bin(join.lag_seconds),
                     len(join.counts)]
            for name, increment in join.counts.items():
                args += [name, counter_arg(increment)]
        args.append(len(batch.pending))
        for label in batch.pending:
            args += [label.prediction_id, repr(label.due), label.value]
        return ApplyResult(int(await self._apply(keys=key_list, args=args)))

    async def counts(self, model_id: str, now: float) -> LabelCounts:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.label_counts(model_id))
            pipe.hlen(keys.pending_labels(model_id))
            pipe.zcount(keys.pending_due(model_id), "-inf", f"({now!r}")
            stored, pending, overdue = await pipe.execute()
        tallies = {text(k): int(float(v)) for k, v in stored.items()}
        return LabelCounts(joined=tallies.get("joined", 0), pending=int(pending),
                           unmatched=tallies.get("unmatched", 0), dropped=tallies.get("dropped", 0),
                           duplicates=tallies.get("duplicates", 0), overdue=int(overdue),
                           errors=tallies.get("errors", 0),
                           lag={k[4:]: v for k, v in tallies.items() if k.startswith("lag:")})

    async def performance(self, model_id: str, window_ids: Sequence[int]) -> dict[int, dict[str, float]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for w in window_ids:
                pipe.hgetall(keys.performance_window(model_id, w))
            raws = await pipe.execute()
        return {w: {text(k): float(v) for k, v in stored.items()}
                for w, stored in zip(window_ids, raws, strict=True) if stored}

    async def performance_windows(self, model_id: str, *, since: int, until: int) -> list[int]:
        members = await self._redis.zrangebyscore(keys.performance_index(model_id), since, until)
        return [int(text(w)) for w in members]  # type: ignore[arg-type]  # members only: no WITHSCORES

    async def performance_state(self, model_id: str) -> bytes | None:
        value = await self._redis.get(keys.performance_state(model_id))
        return raw(value) if value is not None else None

    async def put_performance_state(self, model_id: str, state: bytes) -> None:
        await self._redis.set(keys.performance_state(model_id), state)
