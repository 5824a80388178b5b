"""WorkerMetrics: what render() exposes, with which labels, and the dead-letter reason classes."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftline.config.events import DeadLetter, DriftAlert, RetrainTrigger, TimeWindow
from driftline.detectors.reference import ModelReference
from driftline.streams.app.metrics import REASON_CLASSES, WorkerMetrics, reason_class
from driftline.streams.ingest.decode import Record, decode_batch
from driftline.streams.pipeline.plan import ModelIngest, plan_batch

TOPIC = "driftline.predictions"


def samples(metrics: WorkerMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, parsed back by prometheus_client's own parser."""
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def letter(reason: str, topic: str = TOPIC) -> DeadLetter:
    return DeadLetter(topic=topic, partition=0, offset=1, reason=reason, payload_b64="")


def test_batches_count_events_and_observe_latency_and_size_per_topic() -> None:
    m = WorkerMetrics()
    m.batch(TOPIC, 500, 0.02)
    m.batch(TOPIC, 7, 3.0)
    m.batch("driftline.labels", 3, 0.001)
    s = samples(m)
    assert s[key("driftline_events_consumed_total", topic=TOPIC)] == 507
    assert s[key("driftline_events_consumed_total", topic="driftline.labels")] == 3
    assert s[key("driftline_batch_seconds_count", topic=TOPIC)] == 2
    assert s[key("driftline_batch_seconds_sum", topic=TOPIC)] == pytest.approx(3.02)
    assert s[key("driftline_batch_seconds_bucket", topic=TOPIC, le="0.025")] == 1
    assert s[key("driftline_batch_records_sum", topic=TOPIC)] == 507
    assert s[key("driftline_batch_records_bucket", topic=TOPIC, le="10.0")] == 1


def test_lag_is_a_gauge_per_partition_never_negative_and_forgotten_on_revoke() -> None:
    m = WorkerMetrics()
    m.lag(TOPIC, 0, 120)
    m.lag(TOPIC, 1, 5)
    m.lag(TOPIC, 1, 0)
    m.lag(TOPIC, 2, -3)  # a highwater older than the position
    s = samples(m)
    assert s[key("driftline_consumer_lag", topic=TOPIC, partition="0")] == 120
    assert s[key("driftline_consumer_lag", topic=TOPIC, partition="1")] == 0
    assert s[key("driftline_consumer_lag", topic=TOPIC, partition="2")] == 0
    m.forget_lag(TOPIC, [0, 2, 7])
    lags = {dict(labels)["partition"] for name, labels in samples(m) if name == "driftline_consumer_lag"}
    assert lags == {"1"}


def test_dead_letters_are_counted_by_topic_and_reason_class() -> None:
    m = WorkerMetrics()
    for reason in ["not JSON: unexpected character", "not JSON: eof", "empty message", "unknown model 'x': none"]:
        m.dead_letter(letter(reason))
    m.dead_letter(letter("invalid LabelEvent: label: field required", topic="driftline.labels"))
    s = samples(m)
    assert s[key("driftline_dead_lettered_total", topic=TOPIC, reason="not_json")] == 2
    assert s[key("driftline_dead_lettered_total", topic=TOPIC, reason="empty")] == 1
    assert s[key("driftline_dead_lettered_total", topic=TOPIC, reason="unknown_model")] == 1
    assert s[key("driftline_dead_lettered_total", topic="driftline.labels", reason="schema")] == 1
    reasons = {dict(labels)["reason"] for name, labels in s if name == "driftline_dead_lettered_total"}
    assert reasons <= set(REASON_CLASSES)


def test_statistics_alerts_and_triggers_carry_model_labels() -> None:
    m = WorkerMetrics()
    m.statistic("fraud", "amount", "psi", 0.31)
    m.statistic("fraud", "amount", "psi", 0.05)  # the latest window wins
    m.statistic("fraud", "country|region=eu", "chi2", math.nan)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    window = TimeWindow(start=now, end=now)
    alert = DriftAlert(
        alert_id="a1", model_id="fraud", feature="amount", detector="psi", statistic=0.31, threshold=0.25,
        severity="critical", state="firing", window=window, reference_version="v1", n_reference=100, n_current=100,
    )
    m.alert(alert)
    m.alert(alert)
    m.alert(alert.model_copy(update={"state": "resolved", "severity": "warning"}))
    m.trigger(RetrainTrigger(trigger_id="t1", model_id="fraud", reason="drift", alert_ids=["a1"], policy="p",
                             training_window=window, evidence={"amount": 0.31}))
    s = samples(m)
    assert s[key("driftline_window_statistic", model="fraud", feature="amount", test="psi")] == 0.05
    assert math.isnan(s[key("driftline_window_statistic", model="fraud", feature="country|region=eu", test="chi2")])
    assert s[key("driftline_alerts_total", model="fraud", state="firing", severity="critical")] == 2
    assert s[key("driftline_alerts_total", model="fraud", state="resolved", severity="warning")] == 1
    assert s[key("driftline_retrain_triggers_total", model="fraud")] == 1


def test_two_instances_in_one_process_do_not_share_a_registry() -> None:
    a, b = WorkerMetrics(), WorkerMetrics()  # a global registry would raise "Duplicated timeseries" here
    a.batch(TOPIC, 10, 0.1)
    assert samples(a)[key("driftline_events_consumed_total", topic=TOPIC)] == 10
    assert key("driftline_events_consumed_total", topic=TOPIC) not in samples(b)


def test_the_reasons_the_decoder_and_planner_write_fall_into_their_classes() -> None:
    """Taken from the real code paths, so a reworded reason fails here instead of turning into ``other``."""
    reference = ModelReference.build("m1", "v1", {"x": np.arange(100.0)}, n_bins=4)

    def event(model: str, x: object) -> bytes:
        return orjson.dumps({"model_id": model, "model_version": "1", "prediction_id": "p", "ts": 0.0,
                             "features": {"x": x}, "prediction": 0.5})

    cases = {
        b"": "empty",
        b"x" * 2000: "too_large",
        b"{not json": "not_json",
        b"[1, 2]": "schema",
        orjson.dumps({"model_id": "m1"}): "schema",
        event("m1", {"nested": 1}): "schema",
        event("ghost", 1.0): "unknown_model",
    }
    records = [Record(0, i, raw) for i, raw in enumerate(cases)]
    plan = plan_batch(decode_batch(records, topic=TOPIC, max_bytes=1000), topic=TOPIC,
                      models={"m1": ModelIngest(reference, 60)})
    got = {letter.offset: reason_class(letter.reason) for letter in plan.dead_letters}
    assert got == dict(enumerate(cases.values()))


@pytest.mark.parametrize(("reason", "expected"), [
    ("labels of model 'm' are not joined: its spec (or the worker's --join-labels) does not keep its predictions",
     "not_joined"),
    ("label cannot be compared with its prediction: could not convert string to float", "not_comparable"),
    ("invalid PredictionEvent: features.unknown model 'x': bad", "schema"),  # event text does not decide
    ("message is 5 bytes but not JSON", "too_large"),
    ("Not JSON", "other"),
    ("", "other"),
])
def test_reason_classes_are_decided_by_how_the_reason_starts(reason: str, expected: str) -> None:
    assert reason_class(reason) == expected
