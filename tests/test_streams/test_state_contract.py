"""One contract for both state backends: the Redis one (Lua scripts on a real Redis, and again on a Redis
Cluster) and the in-memory one the processors' unit tests run on. Watermarks make a redelivery a no-op,
buckets of closed windows and buckets the horizon passed count as late, a spread model waits for every
partition, a close is fenced by the lease and happens once, the closed set is trimmed behind a floor,
labels apply under their own watermark, history keeps each window once."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pytest

from driftline.config.events import DriftAlert, TimeWindow
from driftline.config.settings import RedisSettings
from driftline.detectors.policies.alert_policy import AlertState
from driftline.detectors.policies.retrain_policy import FiringAlert, RetrainState
from driftline.detectors.reference import ModelReference
from driftline.streams.state import (
    COUNT_FIELD,
    REFERENCE_EXISTS,
    ApplyResult,
    BucketLayout,
    CloseResult,
    Join,
    KeptPrediction,
    LabelBatch,
    MemoryState,
    ModelBatch,
    PendingLabel,
    RedisState,
    State,
    WarmupBatch,
    WindowClose,
    WindowPoint,
    keys,
    stored_prediction,
)
from driftline.streams.state.windows import CLOSED_KEPT

REDIS = pytest.param("redis", marks=[pytest.mark.integration, pytest.mark.redis_cluster])


@dataclass
class Backend:
    state: State
    take_lease: object  # async (model, token) -> None: another worker holds the model's lease now


@pytest.fixture(params=["memory", REDIS])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        memory = MemoryState()

        async def take_memory(model: str, token: str) -> None:
            memory.leases.take(model, token)

        yield Backend(memory, take_memory)
        return
    settings: RedisSettings = request.getfixturevalue("redis_settings")
    redis = RedisState.from_settings(settings)

    async def take_redis(model: str, token: str) -> None:
        await redis.windows.redis.set(keys.model_lease(model), token)

    yield Backend(redis, take_redis)
    await redis.aclose()


def model_id() -> str:
    return f"m-{uuid.uuid4().hex[:8]}"


def batch(model: str, partition: int, offsets: tuple[int, int], buckets: dict[int, dict[str, int]],
          ts: float) -> ModelBatch:
    return ModelBatch(model, partition, offsets[0], offsets[1], ts, buckets)


def closing(window_id: int, end: float, *, buckets_per_window: int = 1, history: int = 0,
            states: dict[str, AlertState] | None = None) -> WindowClose:
    point = WindowPoint(window_id, end - 60.0, end) if history else None
    return WindowClose(window_id, end, states or {}, {}, point=point, history_windows=history,
                       buckets_per_window=buckets_per_window)


MINUTE = BucketLayout(bucket_seconds=60)


async def test_apply_is_idempotent_per_partition_watermark(backend: Backend) -> None:
    store, model = backend.state.windows, model_id()
    first = batch(model, 0, (0, 9), {0: {"x:1": 7, "x:2": 3, COUNT_FIELD: 10}}, ts=30.0)
    assert await store.apply(first) is ApplyResult.APPLIED
    assert await store.apply(first) is ApplyResult.ALREADY_APPLIED  # a redelivery changes nothing
    overlapping = batch(model, 0, (5, 14), {0: {"x:1": 10, COUNT_FIELD: 10}}, ts=40.0)
    assert await store.apply(overlapping) is ApplyResult.OVERLAPS_WATERMARK
    other_partition = batch(model, 1, (0, 1), {0: {"x:1": 2, COUNT_FIELD: 2}}, ts=50.0)
    assert await store.apply(other_partition) is ApplyResult.APPLIED
    window = await store.read_buckets(model, [0])
    assert window.n_events == 12
    assert window.features == {"x": {"1": 9, "2": 3}}
    assert await store.applied_offsets([(model, 0), (model, 1), (model, 2)]) == {(model, 0): 9, (model, 1): 1}


async def test_detector_states_ride_with_the_batch_and_not_with_a_redelivery(backend: Backend) -> None:
    store, model = backend.state.windows, model_id()
    first = batch(model, 0, (0, 1), {0: {COUNT_FIELD: 2}}, ts=1.0)
    assert await store.apply(first, detector_states={"0:0": b"a", "0:0:watch": b"{}"}) is ApplyResult.APPLIED
    assert await store.apply(first, detector_states={"0:0": b"b"}) is ApplyResult.ALREADY_APPLIED
    assert await store.detector_states(model, ["0:0", "0:0:watch", "1:0"]) == {"0:0": b"a", "0:0:watch": b"{}"}


async def test_windows_close_by_event_time_and_late_events_are_counted_apart(backend: Backend) -> None:
    store, model = backend.state.windows, model_id()
    await store.apply(batch(model, 0, (0, 0), {0: {"x:0": 1, COUNT_FIELD: 1}}, ts=59.0))
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == []
    await store.apply(batch(model, 0, (1, 2), {1: {"x:0": 1, COUNT_FIELD: 1}, 2: {"x:0": 1, COUNT_FIELD: 1}}, ts=125.0))
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == [0, 1]
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=10) == [0]
    assert await store.close_window(model, closing(0, 60.0)) is CloseResult.CLOSED
    assert await store.closed_window_count(model) == 1
    late = batch(model, 0, (3, 3), {0: {"x:0": 5, COUNT_FIELD: 5}}, ts=20.0)
    assert await store.apply(late) is ApplyResult.APPLIED
    assert (await store.read_buckets(model, [0])).n_events == 1  # the closed window is not changed
    assert await store.late_count(model) == 5
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == [1]


async def test_an_event_for_a_window_the_horizon_passed_before_it_opened_is_late(backend: Backend) -> None:
    """Clock skew into the past: a window that never opened but would have closed by now takes no events."""
    store, model = backend.state.windows, model_id()
    layout = BucketLayout(bucket_seconds=60, lateness_seconds=30)
    assert await store.apply(batch(model, 0, (0, 0), {10: {"x:0": 1, COUNT_FIELD: 1}}, ts=630.0), layout) \
        is ApplyResult.APPLIED  # horizon 600: windows ending at or before it are gone
    mixed = {1: {"x:0": 4, COUNT_FIELD: 4}, 9: {"x:0": 2, COUNT_FIELD: 2}, 10: {"x:0": 3, COUNT_FIELD: 3}}
    assert await store.apply(batch(model, 0, (1, 9), mixed, ts=640.0), layout) is ApplyResult.APPLIED
    assert await store.late_count(model) == 6  # windows 1 (ends 120) and 9 (ends 600)
    assert (await store.read_buckets(model, [10])).n_events == 4  # window 10 (ends 660) is still open
    assert (await store.read_buckets(model, [1])).n_events == 0
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=30) == []


async def test_the_horizon_is_the_slowest_partition(backend: Backend) -> None:
    """A model spread over partitions: a window closes only when every partition has passed it."""
    store, model = backend.state.windows, model_id()
    await store.apply(batch(model, 0, (0, 0), {2: {"x:0": 1, COUNT_FIELD: 1}}, ts=125.0))
    await store.apply(batch(model, 1, (0, 0), {1: {"x:0": 1, COUNT_FIELD: 1}}, ts=61.0))
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == []  # window 1 ends at 120
    await store.apply(batch(model, 1, (1, 1), {2: {"x:0": 1, COUNT_FIELD: 1}}, ts=121.0))
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == [1]


async def test_feature_events_hold_windows_open_until_their_topic_passes_or_goes_quiet(backend: Backend) -> None:
    """Predictions without features wait for the features topic (a placeholder until its partition is known);
    a features partition quiet by the wall clock no longer holds them, and its partition 0 is not the
    predictions topic's."""
    from driftline.streams.state import features_partition

    store, model = backend.state.windows, model_id()
    await store.apply(batch(model, 0, (0, 0), {0: {"__prediction__:0": 1, COUNT_FIELD: 1}}, ts=30.0))
    assert await store.expect_features(model, 30.0, wall_time=1000.0)
    assert not await store.expect_features(model, 40.0, wall_time=1000.0)  # set once
    await store.apply(batch(model, 0, (1, 1), {3: {"__prediction__:0": 1, COUNT_FIELD: 1}}, ts=200.0))
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == []  # waiting for features
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0,
                                        features_stale_before=1001.0) == [0]  # ... for a while only
    features = features_partition(0)
    assert await store.apply(batch(model, features, (0, 0), {0: {"x:0": 1, COUNT_FIELD: 1}}, ts=50.0)) \
        is ApplyResult.APPLIED  # offset 0 of the features topic: not the predictions' offset 0
    await store.note_features(model, features, wall_time=1002.0)
    assert not await store.expect_features(model, 200.0, wall_time=1003.0)  # its partition is known now
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == []  # features at 50
    await store.apply(batch(model, features, (1, 1), {2: {"x:0": 1, COUNT_FIELD: 1}}, ts=130.0))
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == [0]  # both passed it
    assert (await store.read_buckets(model, [0])).features == {"__prediction__": {"0": 1}, "x": {"0": 1}}
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0,
                                        features_stale_before=1002.5) == [0, 2]  # quiet features: predictions'


async def test_a_bucket_keeps_the_reference_version_that_binned_it_first(backend: Backend) -> None:
    store, model = backend.state.windows, model_id()
    old = ModelReference.build(model, "v1", {"x": np.arange(100.0)}, n_bins=4)
    await store.put_reference(old)
    first = batch(model, 0, (0, 0), {0: {"x:0": 1, COUNT_FIELD: 1}}, ts=10.0)
    first.versions = {0: "v1"}
    assert await store.apply(first) is ApplyResult.APPLIED
    await store.put_reference(dataclasses.replace(old, version="v2"))
    switched = batch(model, 0, (1, 2), {0: {"x:3": 1, COUNT_FIELD: 1}, 1: {"x:3": 1, COUNT_FIELD: 1}}, ts=70.0)
    switched.versions = {0: "v2", 1: "v2"}
    assert await store.apply(switched) is ApplyResult.VERSION_PINNED  # nothing applied: re-plan bucket 0 on v1
    assert await store.bucket_versions(model, [0, 1]) == {0: "v1"}
    switched.versions = {0: "v1", 1: "v2"}
    assert await store.apply(switched) is ApplyResult.APPLIED
    assert (await store.read_buckets(model, [0])).versions == {"v1"}
    assert (await store.read_buckets(model, [0, 1])).versions == {"v1", "v2"}
    assert (await store.read_buckets(model, [0])).features == {"x": {"0": 1, "3": 1}}
    assert await store.get_reference_version(model, "v1") == old  # kept after v2 replaced it
    assert (await store.get_reference(model)).version == "v2"  # type: ignore[union-attr]


async def test_a_spread_model_closes_nothing_until_every_partition_has_carried_it(backend: Backend) -> None:
    store, model = backend.state.windows, model_id()
    layout = BucketLayout(bucket_seconds=60, lateness_seconds=0, expected_partitions=4)
    await store.apply(batch(model, 0, (0, 0), {10: {"x:0": 1, COUNT_FIELD: 1}}, ts=630.0), layout)
    for partition in (1, 2):
        await store.apply(batch(model, partition, (0, 0), {1: {"x:0": 1, COUNT_FIELD: 1}}, ts=125.0), layout)
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0, expected_partitions=4) == []
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == [1]
    await store.apply(batch(model, 3, (0, 0), {1: {"x:0": 1, COUNT_FIELD: 1}}, ts=125.0), layout)
    assert await store.late_count(model) == 0
    assert (await store.read_buckets(model, [1])).n_events == 3
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0, expected_partitions=4) == [1]


async def test_buckets_add_up_for_a_sliding_window(backend: Backend) -> None:
    store, model = backend.state.windows, model_id()
    await store.apply(batch(model, 0, (0, 2), {
        0: {"x:0": 1, COUNT_FIELD: 1}, 1: {"x:0": 2, "x:1": 1, COUNT_FIELD: 3, f"{COUNT_FIELD}|r=eu": 3},
        2: {"x:1": 4, COUNT_FIELD: 4},
    }, ts=150.0))
    merged = await store.read_buckets(model, [0, 1])
    assert (merged.window_id, merged.n_events, merged.features) == (1, 4, {"x": {"0": 3, "1": 1}})


async def test_closing_is_fenced_by_the_models_lease_and_happens_once(backend: Backend) -> None:
    store, model = backend.state.windows, model_id()
    await store.apply(batch(model, 0, (0, 1), {0: {"x:0": 1, COUNT_FIELD: 1}, 1: {"x:0": 1, COUNT_FIELD: 1}},
                            ts=61.0))
    await backend.take_lease(model, "worker-b")  # type: ignore[operator]
    firing = {"x": AlertState(firing=True, severity="critical")}
    assert await store.close_window(model, closing(0, 60.0, states=firing), lease="worker-a") is CloseResult.LEASE_LOST
    assert await store.closed_window_count(model) == 0
    assert await store.alert_states(model) == {}  # nothing of a fenced close is stored
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == [0]
    assert await store.close_window(model, closing(0, 60.0, states=firing), lease="worker-b") is CloseResult.CLOSED
    assert await store.close_window(model, closing(0, 60.0), lease="worker-b") is CloseResult.ALREADY_CLOSED
    assert await store.alert_states(model) == firing
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == []


async def test_the_closed_set_stays_small_and_old_windows_stay_closed(backend: Backend) -> None:
    store, model = backend.state.windows, model_id()
    n = 3 * CLOSED_KEPT
    await store.apply(batch(model, 0, (0, n - 1), {w: {"x:0": 1, COUNT_FIELD: 1} for w in range(n)}, ts=n * 60.0))
    for w in range(n):
        await store.close_window(model, closing(w, (w + 1) * 60.0))
    assert CLOSED_KEPT <= await store.closed_window_count(model) <= 2 * CLOSED_KEPT
    # A second partition shows up with old events: its horizon is behind, but window 0 is closed (floor).
    assert await store.apply(batch(model, 1, (0, 0), {0: {"x:0": 2, COUNT_FIELD: 2}}, ts=1.0)) is ApplyResult.APPLIED
    assert await store.late_count(model) == 2
    assert (await store.read_buckets(model, [0])).n_events == 1
    assert await store.close_window(model, closing(0, 60.0)) is CloseResult.CLOSED  # below the floor: a no-op
    assert await store.closable_buckets(model, bucket_seconds=60, lateness_seconds=0) == []


async def test_a_close_keeps_its_history_entry_once(backend: Backend) -> None:
    state, model = backend.state, model_id()
    await state.windows.apply(batch(model, 0, (0, 2), {b: {"x:0": 1, COUNT_FIELD: 1} for b in range(3)}, ts=185.0))
    for w in range(3):
        await state.windows.close_window(model, closing(w, (w + 1) * 60.0, history=2))
    kept = [p.window_id for p in await state.history.windows(model)]
    assert kept[-2:] == [1, 2] and kept in ([1, 2], [0, 1, 2])  # the newest 2 at least (Redis trims ~ MAXLEN)
    assert [p.window_id for p in await state.history.windows(model, last=1)] == [2]
    assert [p.end for p in await state.history.windows(model, since=120.0, until=120.0)] == [120.0]


async def test_warmup_rows_collect_under_the_watermark_until_a_reference_exists(backend: Backend) -> None:
    store, model = backend.state.windows, model_id()
    rows = WarmupBatch(model, 0, 0, 1, [b'{"x": 1}', b'{"x": 2}'])
    assert await store.apply_warmup(rows) == 2
    assert await store.apply_warmup(rows) == 2  # a redelivery
    assert await store.apply_warmup(WarmupBatch(model, 0, 1, 2, [b"{}", b"{}"])) == -1  # overlaps
    assert await store.warmup_rows(model) == [b'{"x": 1}', b'{"x": 2}']
    first = ModelReference.build(model, "v1", {"x": np.linspace(0, 1, 50)}, n_bins=5)
    second = ModelReference.build(model, "v2", {"x": np.linspace(0, 1, 50)}, n_bins=5)
    assert await store.put_reference_if_absent(first) == first
    assert await store.put_reference_if_absent(second) == first  # the first writer wins
    assert await store.warmup_rows(model) == []
    assert await store.apply_warmup(WarmupBatch(model, 0, 2, 3, [b"{}"])) == REFERENCE_EXISTS
    assert model in await store.model_ids()
    assert await store.get_reference(model) == first
    await store.put_reference(second)
    assert await store.get_reference(model) == second


NOW = 1_000_000.0


def kept_batch(model: str, offsets: tuple[int, int], predictions: dict[int, dict[str, bytes]],
               joins: list[Join] | None = None) -> ModelBatch:
    """Predictions of a model that joins labels (kept a day), in performance window 0."""
    kept = batch(model, 0, offsets, {0: {COUNT_FIELD: sum(len(p) for p in predictions.values())}}, ts=30.0)
    kept.predictions = predictions
    kept.keep_predictions_seconds = 86_400
    kept.predicted = {0: sum(len(p) for p in predictions.values())}
    kept.joins = joins or []
    kept.now = NOW
    return kept


ERR = {"n": 1, "err": 1}
RIGHT = {"n": 1, "err": 0}


async def test_labels_apply_under_their_own_watermark_and_join_kept_predictions_once(backend: Backend) -> None:
    state, model = backend.state, model_id()
    p1, p2 = stored_prediction(0.25, 30.0, None), stored_prediction("fraud", 40.0, None)
    assert await state.windows.apply(kept_batch(model, (0, 1), {11: {"p1": p1}, 12: {"p2": p2}})) is ApplyResult.APPLIED
    found, days = await state.labels.find_predictions(model, ["p1", "p2", "p3"], NOW)
    assert found == {"p1": KeptPrediction(11, p1), "p2": KeptPrediction(12, p2)} and days == (12, 11)
    labels = LabelBatch(model, 0, 0, 4, joins=[Join("p1", 0, ERR, day=11, lag_seconds=3.0),
                                               Join("p2", 0, {"n": 1, "ae": 0.5, "se": 0.25}, day=12),
                                               Join("p1", 0, ERR, day=11)],
                        days=days, now=NOW, states={"label:0:0": b"s"})
    assert await state.labels.apply(labels) is ApplyResult.APPLIED
    assert await state.labels.apply(labels) is ApplyResult.ALREADY_APPLIED
    assert await state.labels.apply(LabelBatch(model, 0, 3, 6, now=NOW)) is ApplyResult.OVERLAPS_WATERMARK
    counts = await state.labels.counts(model, NOW)
    assert (counts.joined, counts.duplicates, counts.errors, counts.pending) == (2, 1, 1, 0)
    assert counts.lag == {"4": 1}
    assert await state.labels.performance(model, [0, 1]) == {0: {"predicted": 2.0, "n": 2.0, "err": 1.0,
                                                                 "ae": 0.5, "se": 0.25}}
    assert await state.labels.performance_windows(model, since=-5, until=5) == [0]
    assert await state.labels.detector_states(model, ["label:0:0"]) == {"label:0:0": b"s"}
    assert await state.labels.applied_offsets([(model, 0), (model, 1)]) == {(model, 0): 4}
    assert (await state.labels.find_predictions(model, ["p1", "p2"], NOW))[0] == {}  # joined: not kept any more


async def test_a_label_that_comes_first_waits_and_its_prediction_joins_it(backend: Backend) -> None:
    state, model = backend.state, model_id()
    found, days = await state.labels.find_predictions(model, ["p1"], NOW)
    assert found == {} and days == ()
    waiting = LabelBatch(model, 0, 0, 1, pending=[PendingLabel("p1", b'[1,50.0,0,0]', NOW + 60),
                                                 PendingLabel("p1", b'[1,50.0,0,1]', NOW + 60)], now=NOW)
    assert await state.labels.apply(waiting) is ApplyResult.APPLIED
    counts = await state.labels.counts(model, NOW)
    assert (counts.pending, counts.duplicates, counts.joined) == (1, 1, 0)
    assert await state.windows.pending_labels(model, ["p1", "p2"]) == {"p1": b'[1,50.0,0,0]'}
    # the prediction's batch was planned before the label waited: refused, nothing changed
    raced = kept_batch(model, (0, 1), {11: {"p1": stored_prediction(0.9, 30.0, None)}})
    assert await state.windows.apply(raced) is ApplyResult.JOIN_RACE
    assert await state.windows.applied_offsets([(model, 0)]) == {}
    joined = kept_batch(model, (0, 1), {11: {}}, joins=[Join("p1", 0, RIGHT, lag_seconds=20.0)])
    assert await state.windows.apply(joined) is ApplyResult.APPLIED
    assert await state.windows.apply(joined) is ApplyResult.ALREADY_APPLIED
    counts = await state.labels.counts(model, NOW)
    assert (counts.pending, counts.joined, counts.errors) == (0, 1, 0)
    assert await state.labels.performance(model, [0]) == {0: {"predicted": 0.0, "n": 1.0, "err": 0.0}}


async def test_a_waiting_label_and_its_prediction_that_crossed_make_the_label_batch_replan(backend: Backend) -> None:
    state, model = backend.state, model_id()
    _, days = await state.labels.find_predictions(model, ["p1"], NOW)  # planned: no prediction yet
    assert await state.windows.apply(kept_batch(model, (0, 1), {11: {"p1": stored_prediction(1, 30.0, None)}})) \
        is ApplyResult.APPLIED  # ... which came meanwhile, on a new day
    waiting = LabelBatch(model, 0, 0, 1, pending=[PendingLabel("p1", b"[0,50.0,0,0]", NOW + 60)], days=days, now=NOW)
    assert await state.labels.apply(waiting) is ApplyResult.JOIN_RACE
    found, days = await state.labels.find_predictions(model, ["p1"], NOW)
    again = LabelBatch(model, 0, 0, 1, pending=[PendingLabel("p1", b"[0,50.0,0,0]", NOW + 60)], days=days, now=NOW)
    assert found and await state.labels.apply(again) is ApplyResult.JOIN_RACE  # kept on a day looked in, too


async def test_waiting_labels_are_bounded_and_unmatched_only_once_their_wait_is_over(backend: Backend) -> None:
    state, model = backend.state, model_id()
    first = LabelBatch(model, 0, 0, 2, pending=[PendingLabel(f"p{i}", b"[0,1.0,0,0]", NOW + 10 * i)
                                                for i in range(3)], now=NOW, max_pending=2)
    assert await state.labels.apply(first) is ApplyResult.APPLIED
    counts = await state.labels.counts(model, NOW + 5)
    assert (counts.pending, counts.dropped, counts.overdue, counts.unmatched) == (2, 1, 1, 0)
    assert await state.labels.apply(LabelBatch(model, 0, 3, 3, now=NOW + 15)) is ApplyResult.APPLIED
    counts = await state.labels.counts(model, NOW + 15)
    assert (counts.pending, counts.unmatched, counts.overdue) == (0, 2, 0)


async def test_the_performance_state_is_kept(backend: Backend) -> None:
    state, model = backend.state, model_id()
    assert await state.labels.performance_state(model) is None
    await state.labels.put_performance_state(model, b'{"firing": true}')
    assert await state.labels.performance_state(model) == b'{"firing": true}'


async def test_leases_take_turns(backend: Backend) -> None:
    leases, model, inside = backend.state.leases, model_id(), []
    async with leases.hold(model) as first:
        inside.append(first)
    async with leases.hold(model) as second:
        inside.append(second)
    assert len(set(inside)) == 2


async def test_retrain_state_and_firing_alerts_round_trip(backend: Backend) -> None:
    store, model = backend.state.retrain, model_id()
    assert (await store.load(model)).firing == {} and (await store.load(model)).state is None
    firing = {"amount||psi": FiringAlert("a1", "amount", "critical", since=60.0, statistic=0.4)}
    await store.save(model, firing, RetrainState(trigger_times=(60.0,)))
    record = await store.load(model)
    assert record.firing == firing and record.state == RetrainState(trigger_times=(60.0,))
    await store.save(model, {}, None)  # no new policy state: the old one stays
    assert (await store.load(model)).state == RetrainState(trigger_times=(60.0,))
    assert await store.firing_keys(model) == []


async def test_history_keeps_each_published_alert_once(backend: Backend) -> None:
    history, model = backend.state.history, model_id()
    end = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    alert = DriftAlert(alert_id="a1", model_id=model, feature="amount", detector="psi", statistic=0.4,
                       threshold=0.25, severity="critical", state="firing",
                       window=TimeWindow(start=datetime(2026, 1, 1, tzinfo=UTC), end=end), reference_version="v1",
                       n_reference=10, n_current=10)
    value = alert.model_dump_json().encode()
    await history.record_alert(alert, value)
    await history.record_alert(alert, value)  # at-least-once publishing: the same bytes again
    assert await history.alerts(model) == [alert]
    assert await history.alerts(model, since=end.timestamp() + 1) == []


async def test_progress_is_per_group(backend: Backend) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    progress = backend.state.progress(group)
    await progress.mark("t", {0: 10, 1: 20})
    assert await progress.read("t", [0, 1, 2]) == {0: 10, 1: 20}
    assert await backend.state.progress(f"{group}-other").read("t", [0]) == {}
