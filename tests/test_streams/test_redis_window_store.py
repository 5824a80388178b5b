"""What only the Redis window store shows: the keys themselves (TTLs, encodings, the floor). Its semantics
are the contract both backends keep: tests/test_streams/test_state_contract.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from driftline.config.settings import RedisSettings
from driftline.streams.state import COUNT_FIELD, ApplyResult, ModelBatch, WindowClose, keys
from driftline.streams.state.windows import RedisWindowStore

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


@pytest.fixture
async def store(redis_settings: RedisSettings) -> AsyncIterator[RedisWindowStore]:
    s = RedisWindowStore.from_settings(redis_settings)
    yield s
    await s.close()


def batch(
    model: str, partition: int, offsets: tuple[int, int], buckets: dict[int, dict[str, int]], ts: float
) -> ModelBatch:
    return ModelBatch(model, partition, offsets[0], offsets[1], ts, buckets)


def closing(window_id: int, end: float, *, buckets_per_window: int = 1) -> WindowClose:
    return WindowClose(window_id, end, {}, {}, buckets_per_window=buckets_per_window)


async def test_predictions_are_kept_per_day_with_the_batch_and_expire(
    store: RedisWindowStore, redis_settings: RedisSettings
) -> None:
    from driftline.streams.state.client import redis_client

    model = f"m-{uuid.uuid4().hex[:8]}"
    kept = batch(model, 0, (0, 1), {0: {COUNT_FIELD: 2}}, ts=86_401.0)
    kept.predictions = {0: {"p1": b"0.25"}, 1: {"p2": b'"fraud"'}}
    kept.keep_predictions_seconds = 3600
    assert await store.apply(kept) is ApplyResult.APPLIED
    client = redis_client(redis_settings)
    try:
        assert await client.hgetall(keys.predictions(model, 0)) == {b"p1": b"0.25"}
        assert await client.hget(keys.predictions(model, 1), "p2") == b'"fraud"'
        ttl = await client.ttl(keys.predictions(model, 1))
        assert 3600 < ttl <= 3600 + keys.PREDICTION_BUCKET_SECONDS
        again = batch(model, 0, (0, 1), {0: {COUNT_FIELD: 2}}, ts=86_401.0)
        again.predictions = {0: {"p1": b"0.99"}}
        assert await store.apply(again) is ApplyResult.ALREADY_APPLIED  # under the watermark: nothing written
        assert await client.hget(keys.predictions(model, 0), "p1") == b"0.25"
    finally:
        await client.aclose()


async def test_the_closed_set_stays_small_and_old_windows_stay_closed(store: RedisWindowStore) -> None:
    """Years of windows: the closed set keeps the newest ids (an intset), the floor stands for the rest, and
    an event for a window long closed still counts as late."""
    from driftline.streams.state.windows import CLOSED_KEPT

    model = f"m-{uuid.uuid4().hex[:8]}"
    n = 3 * CLOSED_KEPT
    await store.apply(batch(model, 0, (0, n - 1), {w: {"x:0": 1, COUNT_FIELD: 1} for w in range(n)}, ts=n * 60.0))
    for w in range(n):
        await store.close_window(model, closing(w, (w + 1) * 60.0))
    assert CLOSED_KEPT <= await store.closed_window_count(model) <= 2 * CLOSED_KEPT
    floor = int(await store.redis.get(keys.closed_floor(model)))
    assert 0 < floor < n - CLOSED_KEPT
    assert await store.redis.object("encoding", keys.closed_windows(model)) == b"intset"
    # A second partition shows up with old events: its horizon is behind, but window 0 is closed (floor).
    assert await store.apply(batch(model, 1, (0, 0), {0: {"x:0": 2, COUNT_FIELD: 2}}, ts=1.0)) is ApplyResult.APPLIED
    assert await store.late_count(model) == 2
    assert (await store.read_bucket(model, 0)).n_events == 1


async def test_a_bucket_no_later_window_reads_expires_soon_after_its_close(redis_settings: RedisSettings) -> None:
    """Sliding windows of 3 buckets, 1-bucket gap at 5: closing window 4 (buckets 2-4) ends bucket 2; closing
    window 7 (5-7) ends 5 and the gap's 4 and 3 (4 was ended by nobody, as window 5 and 6 had no events).
    The buckets later windows still read keep the long TTL."""
    store = RedisWindowStore.from_settings(redis_settings, bucket_ttl_seconds=100_000, closed_bucket_ttl_seconds=50)
    model = f"m-{uuid.uuid4().hex[:8]}"
    buckets = (2, 3, 4, 7)
    await store.apply(batch(model, 0, (0, 3), {b: {"x:0": 1, COUNT_FIELD: 1} for b in buckets}, ts=500.0))

    async def ttls() -> dict[int, int]:
        return {b: await store.redis.ttl(keys.bucket_counts(model, b)) for b in buckets}

    assert all(t > 50 for t in (await ttls()).values())
    await store.close_window(model, closing(4, 300.0, buckets_per_window=3))
    after = await ttls()
    assert after[2] <= 50 and min(after[3], after[4], after[7]) > 50
    await store.close_window(model, closing(7, 480.0, buckets_per_window=3))
    after = await ttls()
    assert max(after[3], after[4]) <= 50 and after[7] > 50
    assert (await store.read_buckets(model, [5, 6, 7])).n_events == 1  # still readable until it expires
    await store.close()
