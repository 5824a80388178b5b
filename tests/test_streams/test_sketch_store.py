"""The Redis sketch store on a real Redis: atomic apply with watermarks, windows, late events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest

from driftline.detectors.reference import ModelReference
from driftline.streams.batch import COUNT_FIELD, ModelBatch
from driftline.streams.sketch_store import ApplyResult, SketchStore

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[SketchStore]:
    s = SketchStore.from_url(redis_url)
    yield s
    await s.close()


def batch(
    model: str, partition: int, offsets: tuple[int, int], windows: dict[int, dict[str, int]], ts: float
) -> ModelBatch:
    return ModelBatch(model, partition, offsets[0], offsets[1], ts, windows)


async def test_apply_is_idempotent_per_partition_watermark(store: SketchStore) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    first = batch(model, 0, (0, 9), {0: {"x:1": 7, "x:2": 3, COUNT_FIELD: 10}}, ts=30.0)
    assert await store.apply(first) is ApplyResult.APPLIED
    assert await store.apply(first) is ApplyResult.ALREADY_APPLIED  # a redelivery changes nothing
    overlapping = batch(model, 0, (5, 14), {0: {"x:1": 10, COUNT_FIELD: 10}}, ts=40.0)
    assert await store.apply(overlapping) is ApplyResult.OVERLAPS_WATERMARK
    other_partition = batch(model, 1, (0, 1), {0: {"x:1": 2, COUNT_FIELD: 2}}, ts=50.0)
    assert await store.apply(other_partition) is ApplyResult.APPLIED
    window = await store.read_window(model, 0)
    assert window.n_events == 12
    assert window.features == {"x": {"1": 9, "2": 3}}
    assert await store.applied_offsets([(model, 0), (model, 1), (model, 2)]) == {(model, 0): 9, (model, 1): 1}


async def test_windows_close_by_event_time_and_late_events_are_counted_apart(store: SketchStore) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    await store.apply(batch(model, 0, (0, 0), {0: {"x:0": 1, COUNT_FIELD: 1}}, ts=59.0))
    assert await store.closable_windows(model, window_seconds=60, lateness_seconds=0) == []
    await store.apply(batch(model, 0, (1, 2), {1: {"x:0": 1, COUNT_FIELD: 1}, 2: {"x:0": 1, COUNT_FIELD: 1}}, ts=125.0))
    assert await store.closable_windows(model, window_seconds=60, lateness_seconds=0) == [0, 1]
    assert await store.closable_windows(model, window_seconds=60, lateness_seconds=10) == [0]
    await store.close_window(model, 0, 60.0, [], {})
    assert await store.closed_window_count(model) == 1
    late = batch(model, 0, (3, 3), {0: {"x:0": 5, COUNT_FIELD: 5}}, ts=20.0)
    assert await store.apply(late) is ApplyResult.APPLIED
    assert (await store.read_window(model, 0)).n_events == 1  # the closed window is not changed
    assert await store.late_count(model) == 5
    assert await store.closable_windows(model, window_seconds=60, lateness_seconds=0) == [1]


async def test_an_event_for_a_window_the_horizon_passed_before_it_opened_is_late(store: SketchStore) -> None:
    """Clock skew into the past: a window that never opened but would have closed by now takes no events
    (closing it would evaluate a window of stragglers); they are counted as late, and only they."""
    model = f"m-{uuid.uuid4().hex[:8]}"
    layout = {"bucket_seconds": 60, "lateness_seconds": 30}
    assert await store.apply(batch(model, 0, (0, 0), {10: {"x:0": 1, COUNT_FIELD: 1}}, ts=630.0), **layout) \
        is ApplyResult.APPLIED  # horizon 600: windows ending at or before it are gone
    mixed = {1: {"x:0": 4, COUNT_FIELD: 4}, 9: {"x:0": 2, COUNT_FIELD: 2}, 10: {"x:0": 3, COUNT_FIELD: 3}}
    assert await store.apply(batch(model, 0, (1, 9), mixed, ts=640.0), **layout) is ApplyResult.APPLIED
    assert await store.late_count(model) == 6  # windows 1 (ends 120) and 9 (ends 600)
    assert (await store.read_window(model, 10)).n_events == 4  # window 10 (ends 660) is still open
    assert (await store.read_window(model, 1)).n_events == 0
    assert await store.closable_windows(model, window_seconds=60, lateness_seconds=30) == []


async def test_reference_round_trips(store: SketchStore) -> None:
    ref = ModelReference.build(f"m-{uuid.uuid4().hex[:8]}", "v3", {"x": np.linspace(0, 1, 50)}, n_bins=5)
    await store.put_reference(ref)
    assert await store.get_reference(ref.model_id) == ref
    assert await store.get_reference("nobody") is None


async def test_the_horizon_is_the_slowest_partition(store: SketchStore) -> None:
    """A model spread over partitions: a window closes only when every partition has passed it."""
    model = f"m-{uuid.uuid4().hex[:8]}"
    await store.apply(batch(model, 0, (0, 0), {2: {"x:0": 1, COUNT_FIELD: 1}}, ts=125.0))
    await store.apply(batch(model, 1, (0, 0), {1: {"x:0": 1, COUNT_FIELD: 1}}, ts=61.0))
    assert await store.closable_windows(model, window_seconds=60, lateness_seconds=0) == []  # window 1 ends at 120
    await store.apply(batch(model, 1, (1, 1), {2: {"x:0": 1, COUNT_FIELD: 1}}, ts=121.0))
    assert await store.closable_windows(model, window_seconds=60, lateness_seconds=0) == [1]


async def test_predictions_are_kept_per_day_with_the_batch_and_expire(store: SketchStore, redis_url: str) -> None:
    import redis.asyncio as aioredis

    from driftline.streams import keys

    model = f"m-{uuid.uuid4().hex[:8]}"
    kept = batch(model, 0, (0, 1), {0: {COUNT_FIELD: 2}}, ts=86_401.0)
    kept.predictions = {0: {"p1": b"0.25"}, 1: {"p2": b'"fraud"'}}
    kept.keep_predictions_seconds = 3600
    assert await store.apply(kept) is ApplyResult.APPLIED
    client = aioredis.Redis.from_url(redis_url)
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


async def test_windows_add_up_for_a_sliding_window(store: SketchStore) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    await store.apply(batch(model, 0, (0, 2), {
        0: {"x:0": 1, COUNT_FIELD: 1}, 1: {"x:0": 2, "x:1": 1, COUNT_FIELD: 3}, 2: {"x:1": 4, COUNT_FIELD: 4},
    }, ts=150.0))
    merged = await store.read_windows(model, [0, 1])
    assert (merged.window_id, merged.n_events, merged.features) == (1, 4, {"x": {"0": 3, "1": 1}})
