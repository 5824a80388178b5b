"""The Redis sketch store on a real Redis: atomic apply with watermarks, windows, late events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest

from driftline.config.settings import RedisSettings
from driftline.detectors.reference import ModelReference
from driftline.streams.pipeline.plan import COUNT_FIELD, ModelBatch
from driftline.streams.state import keys
from driftline.streams.state.windows import ApplyResult, RedisWindowStore

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


@pytest.fixture
async def store(redis_settings: RedisSettings) -> AsyncIterator[RedisWindowStore]:
    s = RedisWindowStore.from_settings(redis_settings)
    yield s
    await s.close()


def batch(
    model: str, partition: int, offsets: tuple[int, int], windows: dict[int, dict[str, int]], ts: float
) -> ModelBatch:
    return ModelBatch(model, partition, offsets[0], offsets[1], ts, windows)


async def test_apply_is_idempotent_per_partition_watermark(store: RedisWindowStore) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    first = batch(model, 0, (0, 9), {0: {"x:1": 7, "x:2": 3, COUNT_FIELD: 10}}, ts=30.0)
    assert await store.apply(first) is ApplyResult.APPLIED
    assert await store.apply(first) is ApplyResult.ALREADY_APPLIED  # a redelivery changes nothing
    overlapping = batch(model, 0, (5, 14), {0: {"x:1": 10, COUNT_FIELD: 10}}, ts=40.0)
    assert await store.apply(overlapping) is ApplyResult.OVERLAPS_WATERMARK
    other_partition = batch(model, 1, (0, 1), {0: {"x:1": 2, COUNT_FIELD: 2}}, ts=50.0)
    assert await store.apply(other_partition) is ApplyResult.APPLIED
    window = await store.read_bucket(model, 0)
    assert window.n_events == 12
    assert window.features == {"x": {"1": 9, "2": 3}}
    assert await store.applied_offsets([(model, 0), (model, 1), (model, 2)]) == {(model, 0): 9, (model, 1): 1}


async def test_windows_close_by_event_time_and_late_events_are_counted_apart(store: RedisWindowStore) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    await store.apply(batch(model, 0, (0, 0), {0: {"x:0": 1, COUNT_FIELD: 1}}, ts=59.0))
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == []
    await store.apply(batch(model, 0, (1, 2), {1: {"x:0": 1, COUNT_FIELD: 1}, 2: {"x:0": 1, COUNT_FIELD: 1}}, ts=125.0))
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == [0, 1]
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=10) == [0]
    await store.close_window(model, 0, 60.0, [], {})
    assert await store.closed_window_count(model) == 1
    late = batch(model, 0, (3, 3), {0: {"x:0": 5, COUNT_FIELD: 5}}, ts=20.0)
    assert await store.apply(late) is ApplyResult.APPLIED
    assert (await store.read_bucket(model, 0)).n_events == 1  # the closed window is not changed
    assert await store.late_count(model) == 5
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == [1]


async def test_an_event_for_a_window_the_horizon_passed_before_it_opened_is_late(store: RedisWindowStore) -> None:
    """Clock skew into the past: a window that never opened but would have closed by now takes no events
    (closing it would evaluate a window of stragglers); they are counted as late, and only they."""
    model = f"m-{uuid.uuid4().hex[:8]}"
    layout = {"bucket_seconds": 60, "lateness_seconds": 30}
    assert await store.apply(batch(model, 0, (0, 0), {10: {"x:0": 1, COUNT_FIELD: 1}}, ts=630.0), **layout) \
        is ApplyResult.APPLIED  # horizon 600: windows ending at or before it are gone
    mixed = {1: {"x:0": 4, COUNT_FIELD: 4}, 9: {"x:0": 2, COUNT_FIELD: 2}, 10: {"x:0": 3, COUNT_FIELD: 3}}
    assert await store.apply(batch(model, 0, (1, 9), mixed, ts=640.0), **layout) is ApplyResult.APPLIED
    assert await store.late_count(model) == 6  # windows 1 (ends 120) and 9 (ends 600)
    assert (await store.read_bucket(model, 10)).n_events == 4  # window 10 (ends 660) is still open
    assert (await store.read_bucket(model, 1)).n_events == 0
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=30) == []


async def test_reference_round_trips(store: RedisWindowStore) -> None:
    ref = ModelReference.build(f"m-{uuid.uuid4().hex[:8]}", "v3", {"x": np.linspace(0, 1, 50)}, n_bins=5)
    await store.put_reference(ref)
    assert await store.get_reference(ref.model_id) == ref
    assert await store.get_reference("nobody") is None


async def test_the_horizon_is_the_slowest_partition(store: RedisWindowStore) -> None:
    """A model spread over partitions: a window closes only when every partition has passed it."""
    model = f"m-{uuid.uuid4().hex[:8]}"
    await store.apply(batch(model, 0, (0, 0), {2: {"x:0": 1, COUNT_FIELD: 1}}, ts=125.0))
    await store.apply(batch(model, 1, (0, 0), {1: {"x:0": 1, COUNT_FIELD: 1}}, ts=61.0))
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == []  # window 1 ends at 120
    await store.apply(batch(model, 1, (1, 1), {2: {"x:0": 1, COUNT_FIELD: 1}}, ts=121.0))
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == [1]


async def test_predictions_are_kept_per_day_with_the_batch_and_expire(
    store: RedisWindowStore, redis_settings: RedisSettings
) -> None:
    from driftline.streams.state import keys
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


async def test_windows_add_up_for_a_sliding_window(store: RedisWindowStore) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    await store.apply(batch(model, 0, (0, 2), {
        0: {"x:0": 1, COUNT_FIELD: 1}, 1: {"x:0": 2, "x:1": 1, COUNT_FIELD: 3}, 2: {"x:1": 4, COUNT_FIELD: 4},
    }, ts=150.0))
    merged = await store.read_buckets(model, [0, 1])
    assert (merged.window_id, merged.n_events, merged.features) == (1, 4, {"x": {"0": 3, "1": 1}})


async def test_a_spread_model_closes_nothing_until_every_partition_has_carried_it(store: RedisWindowStore) -> None:
    """Keyed by prediction_id over 4 partitions: partition 0 far ahead closes nothing, and the events of the
    partitions not read yet are not late, until all 4 have reported."""
    model = f"m-{uuid.uuid4().hex[:8]}"
    layout = {"bucket_seconds": 60, "lateness_seconds": 0, "expected_partitions": 4}
    await store.apply(batch(model, 0, (0, 0), {10: {"x:0": 1, COUNT_FIELD: 1}}, ts=630.0), **layout)
    for partition in (1, 2):
        await store.apply(batch(model, partition, (0, 0), {1: {"x:0": 1, COUNT_FIELD: 1}}, ts=125.0), **layout)
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0, expected_partitions=4) == []
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == [1]  # unspread: would close
    await store.apply(batch(model, 3, (0, 0), {1: {"x:0": 1, COUNT_FIELD: 1}}, ts=125.0), **layout)
    assert await store.late_count(model) == 0
    assert (await store.read_bucket(model, 1)).n_events == 3
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0, expected_partitions=4) == [1]


async def test_closing_is_fenced_by_the_models_lease(store: RedisWindowStore) -> None:
    from driftline.streams.state import keys
    from driftline.streams.state.windows import CloseResult

    model = f"m-{uuid.uuid4().hex[:8]}"
    await store.apply(batch(model, 0, (0, 1), {0: {"x:0": 1, COUNT_FIELD: 1}, 1: {"x:0": 1, COUNT_FIELD: 1}},
                            ts=61.0))
    await store.redis.set(keys.model_lease(model), "worker-b")  # the lease lapsed and another worker took it
    assert await store.close_window(model, 0, 60.0, [], {}, lease="worker-a") is CloseResult.LEASE_LOST
    assert await store.closed_window_count(model) == 0
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == [0]
    assert await store.close_window(model, 0, 60.0, [], {}, lease="worker-b") is CloseResult.CLOSED
    assert await store.close_window(model, 0, 60.0, [], {}, lease="worker-b") is CloseResult.ALREADY_CLOSED
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == []


async def test_the_closed_set_stays_small_and_old_windows_stay_closed(store: RedisWindowStore) -> None:
    """Years of windows: the closed set keeps the newest ids (an intset), the floor stands for the rest, and
    an event for a window long closed still counts as late."""
    from driftline.streams.state import keys
    from driftline.streams.state.windows import CLOSED_KEPT

    model = f"m-{uuid.uuid4().hex[:8]}"
    n = 3 * CLOSED_KEPT
    await store.apply(batch(model, 0, (0, n - 1), {w: {"x:0": 1, COUNT_FIELD: 1} for w in range(n)}, ts=n * 60.0))
    for w in range(n):
        await store.close_window(model, w, (w + 1) * 60.0, [], {})
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
    await store.close_window(model, 4, 300.0, [], {}, buckets_per_window=3)
    after = await ttls()
    assert after[2] <= 50 and min(after[3], after[4], after[7]) > 50
    await store.close_window(model, 7, 480.0, [], {}, buckets_per_window=3)
    after = await ttls()
    assert max(after[3], after[4]) <= 50 and after[7] > 50
    assert (await store.read_buckets(model, [5, 6, 7])).n_events == 1  # still readable until it expires
    await store.close()
