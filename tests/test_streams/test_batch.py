"""The batch planner: decoding, dead letters, binning, and skipping applied offsets."""

from __future__ import annotations

import base64

import numpy as np
import orjson

from driftline.detectors.reference import ModelReference
from driftline.streams.app.metrics import reason_class
from driftline.streams.ingest.decode import Record, decode_batch
from driftline.streams.pipeline.plan import COUNT_FIELD, ModelIngest, plan_batch

TOPIC = "driftline.predictions"
REFERENCE = ModelReference.build("m1", "v1", {"x": np.arange(100.0)}, n_bins=4)  # edges 24.75, 49.5, 74.25


def event(i: int, x: object, ts: float = 0.0, model: str = "m1") -> bytes:
    return orjson.dumps({
        "model_id": model, "model_version": "1", "prediction_id": f"p{i}", "ts": ts,
        "features": {"x": x}, "prediction": 0.5,
    })


def plan(records: list[Record], applied: dict[tuple[str, int], int] | None = None, window_seconds: int = 60):
    decoded = decode_batch(records, topic=TOPIC, max_bytes=10_000)
    return plan_batch(decoded, topic=TOPIC, models={"m1": ModelIngest(REFERENCE, window_seconds)}, applied=applied)


def test_values_are_binned_per_window_with_event_counts() -> None:
    records = [Record(0, i, event(i, x, ts)) for i, (x, ts) in enumerate([(1, 0), (30, 10), (99, 59), (60, 61)])]
    (batch,) = plan(records).model_batches
    assert (batch.min_offset, batch.max_offset, batch.max_event_time) == (0, 3, 61.0)
    assert batch.buckets == {0: {"x:0": 1, "x:1": 1, "x:3": 1, COUNT_FIELD: 3}, 1: {"x:2": 1, COUNT_FIELD: 1}}


def test_nulls_are_counted_as_null_and_strings_apart_as_the_wrong_type() -> None:
    values = [None, "n/a", 5.0, "7.5", True, float("nan")]
    records = [Record(0, i, event(i, x)) for i, x in enumerate(values)]
    records.append(Record(0, 9, orjson.dumps({"model_id": "m1", "model_version": "1", "prediction_id": "p9",
                                              "ts": 0, "features": {"y": 1}, "prediction": 0.5})))  # x absent
    (batch,) = plan(records).model_batches
    # a boolean is a number (true is 1); a string, even "7.5", is of the wrong type; NaN arrives as null
    assert batch.buckets[0] == {"x:0": 2, "x:null": 3, "x:type": 2, COUNT_FIELD: 7}


def test_a_prediction_without_features_counts_for_the_prediction_and_never_as_missing_features() -> None:
    records = [Record(0, 0, event(0, 5.0)),
               Record(0, 1, orjson.dumps({"model_id": "m1", "model_version": "1", "prediction_id": "p1", "ts": 0,
                                          "features": {}, "prediction": 0.5}))]  # its features go as FeatureEvents
    reference = ModelReference.build("m1", "v1", {"x": np.arange(100.0), "__prediction__": np.linspace(0, 1, 100)},
                                     n_bins=4)
    decoded = decode_batch(records, topic=TOPIC, max_bytes=10_000)
    (batch,) = plan_batch(decoded, topic=TOPIC, models={"m1": ModelIngest(reference, 60)}).model_batches
    assert batch.buckets[0] == {"x:0": 1, "__prediction__:2": 2, COUNT_FIELD: 2}


def test_feature_events_count_their_features_under_their_own_watermarks() -> None:
    from driftline.streams.ingest.decode import decode_feature_batch

    reference = ModelReference.build("m1", "v1", {"x": np.arange(100.0), "__prediction__": np.linspace(0, 1, 100)},
                                     n_bins=4)
    raw = [orjson.dumps({"model_id": "m1", "ts": 1.0, "features": {"x": x}}) for x in (5.0, None, 80.0)]
    decoded = decode_feature_batch([Record(2, i, v) for i, v in enumerate(raw)], topic="features", max_bytes=10_000)
    models = {"m1": ModelIngest(reference, 60, keep_predictions_seconds=60)}
    # the features topic's partition 2 has its offset 0 applied already
    plan_ = plan_batch(decoded, topic="features", models=models, applied={("m1", -3): 0})
    (batch,) = plan_.model_batches
    assert batch.partition == -3 and batch.min_offset == 1  # apart from the predictions topic's partition 2
    assert batch.buckets[0] == {"x:null": 1, "x:3": 1, COUNT_FIELD: 2}  # no prediction: not counted missing
    assert batch.predictions == {}  # nothing to keep for a label join


def test_values_outside_the_reference_range_are_counted_beside_their_bins() -> None:
    records = [Record(0, i, event(i, x)) for i, x in enumerate([-5.0, 0.0, 99.0, 99.5, 1e6])]
    (batch,) = plan(records).model_batches
    assert batch.buckets[0] == {"x:0": 2, "x:3": 3, "x:out": 3, COUNT_FIELD: 5}  # the range is [0, 99]


def test_bad_records_become_dead_letters_with_reason_and_original_bytes() -> None:
    bad = [b"", b"not json", b"[1,2]", event(3, 12345.5).replace(b"12345.5", b"1e999"), event(4, 1.0, model="ghost")]
    records = [Record(1, i, value, key=b"k") for i, value in enumerate(bad)] + [Record(1, 9, event(9, 1.0))]
    result = plan(records)
    reasons = [d.reason for d in result.dead_letters]
    assert len(reasons) == 5
    assert reasons[0] == "empty message"
    assert reasons[1].startswith("not JSON")
    assert "expected a JSON object" in reasons[2]
    assert "not finite" in reasons[3] or "inf" in reasons[3]
    assert "unknown model 'ghost'" in reasons[4]
    assert [base64.b64decode(d.payload_b64) for d in result.dead_letters] == bad
    assert {(d.partition, d.offset) for d in result.dead_letters} == {(1, i) for i in range(5)}
    assert result.model_batches[0].n_events == 1  # the valid record next to them still counts


def test_oversized_message_is_dead_lettered() -> None:
    decoded = decode_batch([Record(0, 0, event(0, 1.0))], topic=TOPIC, max_bytes=10)
    assert decoded.dead_letters[0].reason.startswith("message is")


def test_offsets_at_or_below_the_watermark_are_skipped() -> None:
    records = [Record(0, i, event(i, 1.0)) for i in range(5)] + [Record(1, 0, event(9, 1.0))]
    batches = {b.partition: b for b in plan(records, applied={("m1", 0): 2}).model_batches}
    assert (batches[0].min_offset, batches[0].n_events) == (3, 2)
    assert batches[1].n_events == 1


def test_categorical_features_and_the_prediction_are_binned_on_the_reference() -> None:
    from driftline.config.events import PREDICTION_FEATURE

    reference = ModelReference.build(
        "m1", "v1", {"x": np.arange(100.0)}, n_bins=4,
        categorical={"channel": ["web"] * 5 + ["app"] * 3 + ["pos"], PREDICTION_FEATURE: ["ok"] * 9 + ["fraud"]},
        max_categories=2,
    )
    rows = [("web", "ok"), ("app", {"ok": 0.2, "fraud": 0.8}), ("atm", "ok"), (None, "weird"), (7, "ok")]
    records = [
        Record(0, i, orjson.dumps({"model_id": "m1", "model_version": "1", "prediction_id": f"p{i}", "ts": 1.0,
                                   "features": {"x": 1.0, "channel": channel}, "prediction": prediction}))
        for i, (channel, prediction) in enumerate(rows)
    ]
    decoded = decode_batch(records, topic=TOPIC, max_bytes=10_000)
    (batch,) = plan_batch(decoded, topic=TOPIC, models={"m1": ModelIngest(reference, 60)}).model_batches
    counts = batch.buckets[0]
    # channel bins: web 0, app 1, __other__ 2 (pos, atm and 7 alike); a null is counted apart
    # and the values binned __other__ are named (atm and 7 are not among the reference's top categories)
    assert {k: v for k, v in counts.items() if k.startswith("channel:")} == {
        "channel:0": 1, "channel:1": 1, "channel:2": 2, "channel:null": 1, "channel:~atm": 1, "channel:~7": 1,
    }
    # prediction bins: ok 0, fraud 1 (the argmax of a probability map), __other__ 2
    assert {k: v for k, v in counts.items() if k.startswith(PREDICTION_FEATURE)} == {
        f"{PREDICTION_FEATURE}:0": 3, f"{PREDICTION_FEATURE}:1": 1, f"{PREDICTION_FEATURE}:2": 1,
        f"{PREDICTION_FEATURE}:~weird": 1,
    }


def test_unseen_categories_are_named_per_bucket_up_to_a_bound() -> None:
    from driftline.detectors import UNSEEN_NAMED_PER_BATCH

    reference = ModelReference.build("m1", "v1", {}, categorical={"c": ["a", "b"]})
    names = [f"new{k}" for k in range(8) for _ in range(k + 1)] + ["a"]  # new7 most often, new0 once
    records = [Record(0, i, orjson.dumps({"model_id": "m1", "model_version": "1", "prediction_id": f"p{i}",
                                          "ts": 1.0, "features": {"c": c}, "prediction": 0.5}))
               for i, c in enumerate(names)]
    decoded = decode_batch(records, topic=TOPIC, max_bytes=10_000)
    (batch,) = plan_batch(decoded, topic=TOPIC, models={"m1": ModelIngest(reference, 60)}).model_batches
    named = {k: v for k, v in batch.buckets[0].items() if k.startswith("c:~")}
    assert named == {f"c:~new{k}": k + 1 for k in range(8 - UNSEEN_NAMED_PER_BATCH, 8)}
    assert batch.buckets[0]["c:2"] == len(names) - 1  # every unseen value is still counted in __other__
    assert batch.predictions == {}  # not kept unless the model joins labels


def test_predictions_are_kept_per_day_stored_with_their_time_for_models_that_join_labels() -> None:
    # stored on the day of their record's timestamp (when they reached Kafka), whatever their event time
    records = [Record(0, i, event(i, 1.0, ts=86_399.0 + i), timestamp_ms=10 * 86_400_000 + i * 1000)
               for i in range(3)]
    records.append(Record(0, 3, event(3, 1.0, ts=100.0)))  # no timestamp: its event time's day
    decoded = decode_batch(records, topic=TOPIC, max_bytes=10_000)
    models = {"m1": ModelIngest(REFERENCE, 60, keep_predictions_seconds=3600)}
    (batch,) = plan_batch(decoded, topic=TOPIC, models=models).model_batches
    assert batch.predictions == {0: {"p3": b"[0.5,100.0,null]"},
                                 10: {"p0": b"[0.5,86399.0,null]", "p1": b"[0.5,86400.0,null]",
                                     "p2": b"[0.5,86401.0,null]"}}
    assert batch.keep_predictions_seconds == 3600
    assert batch.predicted == {1: 1, 1439: 1, 1440: 2}  # per performance window, by event time


def test_a_warming_model_gets_warmup_rows_not_dead_letters() -> None:
    records = [Record(2, 10 + i, event(i, float(i), model="new")) for i in range(3)]
    decoded = decode_batch(records, topic=TOPIC, max_bytes=10_000)
    result = plan_batch(decoded, topic=TOPIC, models={}, warming={"new"}, applied={("new", 2): 10})
    assert result.dead_letters == [] and result.model_batches == []
    (warm,) = result.warmups
    assert (warm.model_id, warm.partition, warm.min_offset, warm.max_offset) == ("new", 2, 11, 12)
    rows = [orjson.loads(r) for r in warm.rows]
    assert rows == [{"x": 1.0, "__prediction__": 0.5}, {"x": 2.0, "__prediction__": 0.5}]


def test_segment_counts_go_to_their_own_fields_beside_the_whole() -> None:
    def segmented(i: int, x: float, region: str | None) -> bytes:
        return orjson.dumps({"model_id": "m1", "model_version": "1", "prediction_id": f"p{i}", "ts": 1.0,
                             "features": {"x": x}, "prediction": 0.5,
                             "segment": {"region": region} if region else None})

    rows = [(1.0, "eu"), (99.0, "eu"), (30.0, "us"), (60.0, None)]
    records = [Record(0, i, segmented(i, x, region)) for i, (x, region) in enumerate(rows)]
    decoded = decode_batch(records, topic=TOPIC, max_bytes=10_000)
    models = {"m1": ModelIngest(REFERENCE, 60, segments=("region",))}
    (batch,) = plan_batch(decoded, topic=TOPIC, models=models).model_batches
    assert batch.buckets[0] == {
        COUNT_FIELD: 4, "x:0": 1, "x:3": 1, "x:1": 1, "x:2": 1,
        "x|region=eu:0": 1, "x|region=eu:3": 1, "x|region=us:1": 1,
        f"{COUNT_FIELD}|region=eu": 2, f"{COUNT_FIELD}|region=us": 1,
    }


def test_an_event_stamped_far_after_its_record_is_dead_lettered_and_its_neighbours_kept() -> None:
    """Judged against each record's own Kafka timestamp, so a replay decides the same."""
    produced_ms = 1_000 * 1_000
    records = [
        Record(0, 0, event(0, 1.0, ts=1_000.0), timestamp_ms=produced_ms),
        Record(0, 1, event(1, 1.0, ts=1_000.0 + 3600), timestamp_ms=produced_ms),  # an hour ahead
        Record(0, 2, event(2, 1.0, ts=10.0), timestamp_ms=produced_ms),  # long before: not refused here
        Record(0, 3, event(3, 1.0, ts=1_000.0 + 3600)),  # no timestamp: nothing to judge by
    ]
    decoded = decode_batch(records, topic=TOPIC, max_bytes=10_000, max_future_seconds=300)
    assert [r.offset for r in decoded.records] == [0, 2, 3]
    [letter] = decoded.dead_letters
    assert letter.offset == 1 and letter.reason.startswith("event time 1970-01-01T01:16:40+00:00 is 3600 s after")
    assert reason_class(letter.reason) == "clock_skew"
    assert decode_batch(records, topic=TOPIC, max_bytes=10_000).dead_letters == []  # no limit given
