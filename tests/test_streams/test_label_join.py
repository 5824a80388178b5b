"""The label join and the performance alert on the in-memory state, through both processors: labels in any
order join once, a label and its prediction that crossed are joined by the re-plan, and the alert fires
while a window of predictions does worse than the reference (binary scores, regression, class
probabilities) and only then; no drift, no alert."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import orjson
import pytest

from driftline.config.events import PERFORMANCE_FEATURE
from driftline.config.monitor_spec import ModelSpec
from driftline.streams.ingest.decode import Record
from driftline.streams.state import UNBOUNDED, ApplyResult, BucketLayout, LabelBatch, ModelBatch, PendingLabel

from .test_processors import World

WINDOW = 60
PER_WINDOW = 1000


def spec(**performance: object) -> ModelSpec:
    return ModelSpec.model_validate({"window": {"size_seconds": WINDOW}, "features": {"x": {"kind": "numeric"}},
                                     "thresholds": {"min_samples": 20}, "join_labels": True,
                                     "performance": performance})


def predictions(n_windows: int, prediction: object = None, *, start: int = 0, segment: object = None) -> list[bytes]:
    """PER_WINDOW predictions per window; scores uniform in [0, 1] unless ``prediction`` says (a callable of i);
    ``segment(i)``: the event's segment."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(start * PER_WINDOW, (start + n_windows) * PER_WINDOW):
        value = prediction(i, rng) if callable(prediction) else float(rng.uniform())
        event = {"model_id": "m", "model_version": "1", "prediction_id": f"p{i}", "ts": i * WINDOW / PER_WINDOW,
                 "features": {"x": float(rng.normal())}, "prediction": value}
        if callable(segment):
            event["segment"] = segment(i)
        out.append(orjson.dumps(event))
    return out


def labels_for(records: Sequence[bytes], label: object) -> list[bytes]:
    """One label per prediction, a minute later: ``label(i, prediction, rng)``."""
    rng = np.random.default_rng(8)
    out = []
    for i, raw in enumerate(records):
        event = orjson.loads(raw)
        out.append(orjson.dumps({"model_id": "m", "prediction_id": event["prediction_id"],
                                 "label": label(i, event["prediction"], rng), "ts": event["ts"] + 60}))
    return out


def binary_labels(error_rate: object) -> object:
    """Labels a score-at-0.5 model gets wrong with probability ``error_rate(i)``."""
    def label(i: int, score: float, rng: np.random.Generator) -> int:
        wrong = rng.random() < error_rate(i)  # type: ignore[operator]
        return int((score >= 0.5) != wrong)
    return label


def as_records(values: Sequence[bytes], first_offset: int = 0, partition: int = 0) -> list[Record]:
    stamp = 2_000_000_000_000  # 2033: no event time is ahead of its record
    return [Record(partition, first_offset + k, v, timestamp_ms=stamp) for k, v in enumerate(values)]


def batches(records: list[Record], size: int = 2000) -> Iterator[list[Record]]:
    for start in range(0, len(records), size):
        yield records[start:start + size]


def world_for(model_spec: ModelSpec) -> World:
    return World(model_spec)


@pytest.fixture
async def binary() -> World:
    from .test_processors import reference

    world = world_for(spec())
    await world.state.windows.put_reference(reference())
    return world


def performance_alerts(world: World) -> list[tuple[str, int]]:
    return [(a.state, int(a.window.start.timestamp() // WINDOW)) for a in world.broker.alerts
            if a.feature == PERFORMANCE_FEATURE]


RISE_AND_RETURN = binary_labels(lambda i: 0.20 if 6 * PER_WINDOW <= i < 10 * PER_WINDOW else 0.08)


async def test_labels_sent_before_their_predictions_wait_and_join_once(binary: World) -> None:
    preds = predictions(14)
    labels = as_records(labels_for(preds, RISE_AND_RETURN))
    for chunk in batches(labels):
        await binary.labels.process(chunk)
    waiting = await binary.state.labels.counts("m", 1000.0)
    assert (waiting.joined, waiting.pending) == (0, len(labels))
    records = as_records(preds)
    for chunk in batches(records):
        await binary.predictions.process(chunk)
    await binary.predictions.process(records[:3000])  # redelivered
    await binary.labels.process(labels[:3000])
    counts = await binary.state.labels.counts("m", 1000.0)
    assert (counts.joined, counts.pending, counts.duplicates, counts.unmatched) == (len(labels), 0, 0, 0)
    windows = await binary.state.labels.performance("m", list(range(14)))
    assert [int(w["n"]) for w in windows.values()] == [PER_WINDOW] * 14  # by the prediction's time
    assert performance_alerts(binary) == [("firing", 6), ("resolved", 10)]


async def test_labels_running_ahead_of_their_predictions_all_join(binary: World) -> None:
    preds = predictions(14)
    labels = labels_for(preds, RISE_AND_RETURN)
    # on the labels topic: 250 labels of window k + 3 (far ahead), then the labels of window k - 2, ...
    ahead = [(k, labels[(k + 3) * 1000 + 750:(k + 4) * 1000]) for k in range(10)]
    sent = {i for k, chunk in ahead for i in range((k + 3) * 1000 + 750, (k + 4) * 1000)}
    order: list[list[bytes]] = []
    for k in range(14):
        behind = [x for i, x in enumerate(labels[(k - 2) * 1000:(k - 1) * 1000], (k - 2) * 1000) if i not in sent]
        order.append(([*ahead[k][1]] if k < 10 else []) + (behind if k >= 2 else []))
    order.append([x for i, x in enumerate(labels[12_000:], 12_000) if i not in sent])
    label_records = as_records([x for chunk in order for x in chunk])
    offset = 0
    for k, chunk in enumerate(batches(as_records(preds), 1000)):  # window k's predictions, then its labels
        await binary.predictions.process(chunk)
        await binary.labels.process(label_records[offset:offset + len(order[k])])
        offset += len(order[k])
    await binary.labels.process(label_records[offset:])
    assert len(label_records) == len(labels)
    counts = await binary.state.labels.counts("m", 1000.0)
    assert (counts.joined, counts.pending, counts.duplicates) == (len(labels), 0, 0)
    assert performance_alerts(binary) == [("firing", 6), ("resolved", 10)]


async def test_a_label_that_began_waiting_while_its_prediction_was_planned_is_joined_by_the_replan(
    binary: World,
) -> None:
    store = binary.state.windows
    real_apply = store.apply
    crossed: list[bool] = []

    async def crossing_apply(batch: ModelBatch, layout: BucketLayout = UNBOUNDED,
                             detector_states: Mapping[str, bytes] | None = None) -> ApplyResult:
        if not crossed:  # the label of p5 came between this batch's planning and its apply
            crossed.append(True)
            label = LabelBatch("m", 0, 0, 0, pending=[PendingLabel("p5", b'[1, 70.0, 0, 0]', 1e9)], now=1000.0)
            assert await binary.state.labels.apply(label) is ApplyResult.APPLIED
        return await real_apply(batch, layout, detector_states)

    store.apply = crossing_apply  # type: ignore[method-assign]
    await binary.predictions.process(as_records(predictions(1)))
    counts = await binary.state.labels.counts("m", 1000.0)
    assert crossed and (counts.joined, counts.pending) == (1, 0)
    assert (await binary.state.labels.find_predictions("m", ["p5", "p6"], 1000.0))[0].keys() == {"p6"}


async def test_no_drift_in_performance_no_alert(binary: World) -> None:
    preds = predictions(200, lambda i, rng: float(rng.uniform()))
    labels = labels_for(preds, binary_labels(lambda i: 0.08))
    for start in range(0, len(preds), 5000):
        await binary.predictions.process(as_records(preds[start:start + 5000], start))
        await binary.labels.process(as_records(labels[start:start + 5000], start))
    counts = await binary.state.labels.counts("m", 1000.0)
    assert counts.joined == 200 * PER_WINDOW and performance_alerts(binary) == []


async def test_a_regression_model_whose_error_doubles_fires_on_mae() -> None:
    from driftline.detectors.reference import ModelReference

    world = world_for(spec(task="regression"))
    rng = np.random.default_rng(3)
    await world.state.windows.put_reference(ModelReference.build(
        "m", "v1", {"x": rng.normal(0, 1, 5000), "__prediction__": rng.normal(100, 10, 5000)}, n_bins=5))
    preds = predictions(12, lambda i, rng: float(rng.normal(100, 10)))

    def label(i: int, prediction: float, rng: np.random.Generator) -> float:
        return prediction + float(rng.normal(0, 4 if 5 * PER_WINDOW <= i < 9 * PER_WINDOW else 2))

    for chunk in batches(as_records(preds)):
        await world.predictions.process(chunk)
    for chunk in batches(as_records(labels_for(preds, label))):
        await world.labels.process(chunk)
    alerts = [a for a in world.broker.alerts if a.feature == PERFORMANCE_FEATURE]
    assert [(a.state, a.detector, int(a.window.start.timestamp() // WINDOW)) for a in alerts] == [
        ("firing", "mae", 5), ("resolved", "mae", 9)]
    assert alerts[0].statistic > 2 * 0.9 * alerts[0].reference_value  # type: ignore[operator]


async def test_a_three_class_model_sending_probabilities_fires_when_accuracy_drops() -> None:
    from driftline.detectors.reference import ModelReference

    world = world_for(spec())
    classes = ["cat", "dog", "eel"]
    await world.state.windows.put_reference(ModelReference.build(
        "m", "v1", {"x": np.random.default_rng(3).normal(0, 1, 5000)},
        categorical={"__prediction__": classes * 1000}, n_bins=5))

    def probabilities(i: int, rng: np.random.Generator) -> dict[str, float]:
        p = rng.dirichlet([1, 1, 1])
        return dict(zip(classes, (float(v) for v in p), strict=True))

    def label(i: int, prediction: dict[str, float], rng: np.random.Generator) -> str:
        accuracy = 0.70 if 5 * PER_WINDOW <= i < 9 * PER_WINDOW else 0.85
        top = max(prediction, key=prediction.__getitem__)
        return top if rng.random() < accuracy else str(rng.choice([c for c in classes if c != top]))

    preds = predictions(12, probabilities)
    for chunk in batches(as_records(preds)):
        await world.predictions.process(chunk)
    for chunk in batches(as_records(labels_for(preds, label))):
        await world.labels.process(chunk)
    alerts = [(a.state, a.detector, int(a.window.start.timestamp() // WINDOW)) for a in world.broker.alerts
              if a.feature == PERFORMANCE_FEATURE]
    assert alerts == [("firing", "error_rate", 5), ("resolved", "error_rate", 9)]


async def test_a_reference_built_with_labels_is_the_band_from_the_first_window() -> None:
    import dataclasses

    from .test_processors import reference

    world = world_for(spec())
    built = dataclasses.replace(reference(), version="v-labelled", performance={"n": 5000, "err": 400})  # 8 %
    await world.state.windows.put_reference(built)
    preds = predictions(4)
    labels = labels_for(preds, binary_labels(lambda i: 0.20 if i < 2 * PER_WINDOW else 0.08))
    for chunk in batches(as_records(preds)):
        await world.predictions.process(chunk)
    for chunk in batches(as_records(labels)):
        await world.labels.process(chunk)
    alerts = [a for a in world.broker.alerts if a.feature == PERFORMANCE_FEATURE]
    assert [(a.state, int(a.window.start.timestamp() // WINDOW), a.reference_version) for a in alerts] == [
        ("firing", 0, "v-labelled"), ("resolved", 2, "v-labelled")]
    assert alerts[0].reference_value == 0.08 and alerts[0].n_reference == 5000


async def test_a_segment_that_goes_wrong_alone_fires_for_that_segment() -> None:
    from .test_processors import reference

    model_spec = spec().model_copy(update={"segments": ("region",)})
    world = world_for(model_spec)
    await world.state.windows.put_reference(reference())
    region = ["eu", "us", "us", "us"]  # eu is a quarter of the traffic
    preds = predictions(12, segment=lambda i: {"region": region[i % 4]})
    eu_wrong = binary_labels(lambda i: 0.30 if i % 4 == 0 and 6 * PER_WINDOW <= i < 9 * PER_WINDOW else 0.08)
    for chunk in batches(as_records(preds)):
        await world.predictions.process(chunk)
    for chunk in batches(as_records(labels_for(preds, eu_wrong))):
        await world.labels.process(chunk)
    alerts = [(a.state, a.segment, int(a.window.start.timestamp() // WINDOW)) for a in world.broker.alerts
              if a.feature == PERFORMANCE_FEATURE]
    eu = [(state, window) for state, segment, window in alerts if segment == {"region": "eu"}]
    assert eu == [("firing", 6), ("resolved", 9)], alerts
    assert not [a for a in alerts if a[1] == {"region": "us"}]


async def test_a_crash_after_the_joins_are_applied_still_judges_their_windows(binary: World) -> None:
    """The last batch is redone after Redis failed between its apply and the judge: the redone apply is a no-op
    (its joins are in), and the judge still sees the windows they changed: the resolve is published."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    preds = predictions(12)  # the rate is back from window 10 on: the last batch (windows 10-11) resolves
    labels = as_records(labels_for(preds, RISE_AND_RETURN))
    for chunk in batches(labels):
        await binary.labels.process(chunk)  # every label waits
    store = binary.state.labels
    real_read = store.performance_state
    failures: list[int] = []
    armed = False

    async def failing_read(model_id: str) -> bytes | None:
        if armed and len(failures) < 3:
            failures.append(1)
            raise RedisConnectionError("Redis went away")
        return await real_read(model_id)

    store.performance_state = failing_read  # type: ignore[method-assign]
    chunks = list(batches(as_records(preds)))
    for chunk in chunks[:-1]:
        await binary.predictions.process(chunk)
    assert performance_alerts(binary) == [("firing", 6)]
    armed = True
    await binary.predictions.process(chunks[-1])
    assert len(failures) == 3
    assert performance_alerts(binary) == [("firing", 6), ("resolved", 10)]
    counts = await binary.state.labels.counts("m", 1000.0)
    assert (counts.joined, counts.pending) == (len(labels), 0)
