"""The prediction and label processors on the in-memory state, no services: the order of their effects
(what keeps state exact under at-least-once delivery, streams/pipeline/predictions.py), replays, re-plans."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np
import orjson
import pytest

from driftline.config.events import DeadLetter, DriftAlert
from driftline.config.monitor_spec import ModelSpec
from driftline.config.settings import Settings, load_settings
from driftline.detectors.reference import ModelReference
from driftline.streams.ingest.decode import Record, decode
from driftline.streams.pipeline.labels import LabelProcessor
from driftline.streams.pipeline.outputs import Outputs
from driftline.streams.pipeline.performance import PerformanceJudge
from driftline.streams.pipeline.predictions import PredictionProcessor
from driftline.streams.pipeline.retrain import RetrainStep
from driftline.streams.state import (
    UNBOUNDED,
    ApplyResult,
    BucketLayout,
    CloseResult,
    LabelBatch,
    MemoryState,
    ModelBatch,
    WindowClose,
)
from driftline.streams.state.memory import MemoryLabelStore, MemoryWindowStore

SPEC = ModelSpec.model_validate({
    "infer": False,  # x alone: the journal below names its alerts
    "window": {"size_seconds": 60},
    "features": {"x": {"kind": "numeric"}},
    "thresholds": {"min_samples": 20},
    "online": [{"detector": "page_hinkley", "stream": "prediction", "params": {"threshold": 5.0}},
               {"detector": "ddm", "stream": "error", "params": {"warm_start": 50}}],
    "join_labels": True,
    "performance": {"min_labels": 50, "reference_labels": 100},
})


class Journal(list[tuple[str, str]]):
    """Every effect, in order: ("publish", topic kind) and ("apply" / "close", detail)."""

    def publishes(self, kind: str) -> list[int]:
        return [i for i, (what, detail) in enumerate(self) if what == "publish" and detail.startswith(kind)]


class JournalledWindows(MemoryWindowStore):
    journal: Journal

    async def apply(self, batch: ModelBatch, layout: BucketLayout = UNBOUNDED,
                    detector_states: Mapping[str, bytes] | None = None) -> ApplyResult:
        result = await super().apply(batch, layout, detector_states)
        self.journal.append(("apply", f"{batch.model_id}@{batch.partition}:{result.name}"))
        return result

    async def close_window(self, model_id: str, close: WindowClose, *, lease: str = "") -> CloseResult:
        result = await super().close_window(model_id, close, lease=lease)
        self.journal.append(("close", f"{close.window_id}:{result.name}:{'fenced' if lease else 'unfenced'}"))
        return result


class JournalledLabels(MemoryLabelStore):
    journal: Journal

    async def apply(self, batch: LabelBatch) -> ApplyResult:
        result = await super().apply(batch)
        self.journal.append(("apply", f"labels {batch.model_id}@{batch.partition}:{result.name}"))
        return result

    async def put_performance_state(self, model_id: str, state: bytes) -> None:
        await super().put_performance_state(model_id, state)
        self.journal.append(("judged", model_id))


class Recorder:
    """The broker: records what is sent, in order, as the decoded event."""

    def __init__(self, journal: Journal, settings: Settings) -> None:
        self.journal, self.topics = journal, settings.topics
        self.alerts: list[DriftAlert] = []
        self.letters: list[DeadLetter] = []

    async def __call__(self, topic: str, key: bytes, value: bytes) -> None:
        if topic == self.topics.alerts:
            alert = decode(value, DriftAlert, max_bytes=10**6)
            self.alerts.append(alert)
            self.journal.append(("publish", f"alert {alert.detector} {alert.feature} {alert.state}"))
        elif topic == self.topics.deadletter:
            self.letters.append(decode(value, DeadLetter, max_bytes=10**6))
            self.journal.append(("publish", "deadletter"))
        else:
            self.journal.append(("publish", topic))


class World:
    """A processor pair on one in-memory state, with a journal of every effect."""

    def __init__(self, spec: ModelSpec = SPEC, *, settings: dict[str, object] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings = load_settings(**(settings or {}))
        self.journal = Journal()
        self.state = MemoryState()
        windows = JournalledWindows(self.state._models)
        windows.journal = self.journal
        models = self.state._models
        labels = JournalledLabels(lambda m: models[m].labels, lambda m: models[m].detector_states)
        labels.journal = self.journal
        self.state.windows, self.state.labels = windows, labels
        self.broker = Recorder(self.journal, self.settings)
        outputs = Outputs(self.broker, self.settings.topics)
        retrain = RetrainStep(self.state.retrain, outputs)
        judge = PerformanceJudge(labels, outputs, self.state.leases, retrain, references=windows)
        self.predictions = PredictionProcessor(self.settings, windows, outputs, specs={"m": spec},
                                               leases=self.state.leases, retrain=retrain, retry_delays=(0.0,),
                                               judge=judge, clock=lambda: 1000.0, monotonic=monotonic)
        self.labels = LabelProcessor(self.settings, labels, outputs, lambda _: spec, leases=self.state.leases,
                                     retrain=retrain, retry_delays=(0.0,), judge=judge, clock=lambda: 1000.0)
        self.features = PredictionProcessor(self.settings, windows, outputs, specs={"m": spec},
                                            leases=self.state.leases, retrain=retrain, retry_delays=(0.0,),
                                            clock=lambda: 1000.0, monotonic=monotonic, features_only=True)


def reference() -> ModelReference:
    rng = np.random.default_rng(3)
    return ModelReference.build("m", "v1", {"x": rng.normal(0, 1, 5000), "__prediction__": rng.uniform(0, 0.2, 5000)},
                                n_bins=5)


def event(i: int, ts: float, x: float, score: float) -> bytes:
    return orjson.dumps({"model_id": "m", "model_version": "1", "prediction_id": f"p{i}", "ts": ts,
                         "features": {"x": x}, "prediction": score})


def drifting_records() -> list[Record]:
    """Window 0 calm, window 1 drifted (x by 5 sd, scores from 0.1 to 0.9), one event in window 2 to move
    the horizon past window 1, and one record that is not JSON."""
    rng = np.random.default_rng(4)
    values = [b"not json"]
    values += [event(i, i * 0.25, float(rng.normal()), 0.1) for i in range(200)]
    values += [event(200 + i, 60 + i * 0.25, float(rng.normal(5, 1)), 0.9) for i in range(200)]
    values.append(event(400, 130.0, 0.0, 0.9))
    return [Record(0, offset, value) for offset, value in enumerate(values)]


@pytest.fixture
async def world() -> World:
    w = World()
    await w.state.windows.put_reference(reference())
    return w


async def test_the_order_of_effects_is_dead_letters_online_alerts_apply_window_alerts_fenced_close(
    world: World,
) -> None:
    await world.predictions.process(drifting_records())
    j = world.journal
    dead, online = j.publishes("deadletter"), j.publishes("alert page_hinkley")
    window_alerts = j.publishes("alert psi")
    apply = j.index(("apply", "m@0:APPLIED"))
    closes = [i for i, (what, _) in enumerate(j) if what == "close"]
    assert dead and online and window_alerts and closes, j
    assert max(dead) < min(online) < apply  # dead letters, then the online alerts, then the counts
    assert apply < min(window_alerts)  # the window's alerts come from the counts applied
    assert [j[i][1] for i in closes] == ["0:CLOSED:fenced", "1:CLOSED:fenced"]
    assert closes[0] < min(window_alerts) < closes[1]  # window 0 closes calm; window 1's alerts precede its close
    assert {(a.feature, a.state) for a in world.broker.alerts if a.detector == "psi"} >= {("x", "firing")}
    assert world.broker.letters[0].offset == 0 and "not JSON" in world.broker.letters[0].reason
    assert await world.state.windows.closed_window_count("m") == 2
    assert (await world.state.windows.read_buckets("m", [2])).n_events == 1  # window 2 still open


async def test_a_replayed_batch_changes_nothing_and_publishes_the_same_alert_ids(world: World) -> None:
    records = drifting_records()
    await world.predictions.process(records)
    first = [a.alert_id for a in world.broker.alerts]
    counts = await world.state.windows.read_buckets("m", [0, 1])
    world.journal.clear()
    await world.predictions.process(records)  # redelivered after a crash before the commit
    assert ("apply", "m@0:APPLIED") not in world.journal  # everything at or below the watermark was skipped
    assert await world.state.windows.read_buckets("m", [0, 1]) == counts
    assert [a.alert_id for a in world.broker.alerts][: len(first)] == first
    assert set(a.alert_id for a in world.broker.alerts[len(first):]) <= set(first)


async def test_a_model_without_a_reference_is_dead_lettered_and_nothing_is_applied(world: World) -> None:
    stranger = orjson.dumps({"model_id": "stranger", "model_version": "1", "prediction_id": "q", "ts": 1.0,
                             "features": {"x": 1.0}, "prediction": 0.5})
    await world.predictions.process([Record(1, 0, stranger)])
    assert world.journal == [("publish", "deadletter")]
    assert "unknown model 'stranger'" in world.broker.letters[0].reason


async def test_labels_publish_dead_letters_and_alerts_before_they_apply(world: World) -> None:
    await world.predictions.process(drifting_records())
    world.journal.clear()
    rng = np.random.default_rng(5)
    labels = [b"{}"]
    for i in range(400):
        wrong = rng.random() < (0.05 if i < 200 else 0.9)  # the model goes wrong with the drift
        said = i >= 200  # scores 0.1, then 0.9
        labels.append(orjson.dumps({"model_id": "m", "prediction_id": f"p{i}", "label": int(said != wrong),
                                    "ts": 60 + i * 0.25}))
    labels.append(orjson.dumps({"model_id": "m", "prediction_id": "never-made", "label": 1, "ts": 1.0}))
    await world.labels.process([Record(0, offset, value) for offset, value in enumerate(labels)])
    j = world.journal
    apply = j.index(("apply", "labels m@0:APPLIED"))
    assert j.publishes("deadletter") and max(j.publishes("deadletter")) < apply
    ddm, performance = j.publishes("alert ddm"), j.publishes("alert error_rate")
    assert ddm and all(i < apply for i in ddm)  # the error stream's signals go with the batch
    judged = max(i for i, effect in enumerate(j) if effect == ("judged", "m"))
    assert performance and apply < min(performance) and max(performance) < judged  # the judge's after it
    counts = await world.state.labels.counts("m", 1000.0)
    assert (counts.joined, counts.pending, counts.unmatched) == (400, 1, 0)  # the stray waits


async def test_a_watermark_moved_by_another_writer_makes_the_batch_replan(world: World) -> None:
    """Between the planner's read and the apply, another writer applied part of the batch: the apply is
    refused (overlap), the batch re-planned from the new watermark, nothing counted twice."""
    records = drifting_records()
    store = world.state.windows
    real_apply = store.apply
    raced = []

    async def racing_apply(batch: ModelBatch, layout: BucketLayout = UNBOUNDED,
                           detector_states: Mapping[str, bytes] | None = None) -> ApplyResult:
        if not raced:  # the other writer got the first 100 records in first
            raced.append(True)
            head = ModelBatch(batch.model_id, batch.partition, 1, 100, batch.max_event_time,
                              {0: {"__n__": 100, "x:0": 100}})
            await real_apply(head, layout)
        return await real_apply(batch, layout, detector_states)

    store.apply = racing_apply  # type: ignore[method-assign]
    await world.predictions.process(records)
    assert ("apply", "m@0:OVERLAPS_WATERMARK") in world.journal
    assert (await store.read_buckets("m", [0])).n_events == 200  # 100 by the other writer + 100 re-planned


async def test_a_spec_that_only_joins_labels_still_monitors_every_inferred_feature() -> None:
    world = World(ModelSpec.model_validate({"window": {"size_seconds": 60}, "thresholds": {"min_samples": 20},
                                            "join_labels": True}))
    await world.state.windows.put_reference(reference())
    await world.predictions.process(drifting_records())
    assert {(a.feature, a.state) for a in world.broker.alerts} >= {("x", "firing"), ("__prediction__", "firing")}


def test_a_spec_that_sets_what_the_reference_decides_is_refused_unless_it_warms_up() -> None:
    from driftline.streams.pipeline.model_setup import UnsupportedSpec, check_supported

    binned = {"features": {"x": {"kind": "numeric", "bins": 20}}}
    with pytest.raises(UnsupportedSpec, match=r"feature 'x' sets bins, which the reference decides"):
        check_supported({"m": ModelSpec.model_validate(binned)})
    check_supported({"m": ModelSpec.model_validate({**binned, "warmup_events": 1000})})  # honoured by the warm-up
    check_supported({"m": ModelSpec.model_validate({"features": {"x": {"kind": "numeric"}}})})  # the default: fine
    with pytest.raises(ValueError, match="would monitor nothing"):
        ModelSpec.model_validate({"infer": False})


async def test_the_last_window_of_a_quiet_model_closes_when_its_clock_passes_it() -> None:
    now = [1000.0]
    world = World(SPEC, settings={"idle_close_seconds": 30.0}, monotonic=lambda: now[0])
    await world.state.windows.put_reference(reference())
    await world.predictions.process(drifting_records())  # windows 0 and 1 close; the event at 130 s opens 2
    assert await world.state.windows.closed_window_count("m") == 2
    now[0] += 29.0
    await world.predictions.idle()
    assert await world.state.windows.closed_window_count("m") == 2  # not quiet long enough yet
    now[0] += 21.0  # 50 s of quiet: 130 + 50 = 180, window 2's end
    await world.predictions.idle()
    assert await world.state.windows.closed_window_count("m") == 3
    late = [Record(0, 500, event(999, 131.0, 0.0, 0.9))]
    await world.predictions.process(late)
    assert await world.state.windows.late_count("m") == 1  # window 2 is judged: its late events count apart


def flag_and_code_events(n: int, start: int, *, flag_p: float, codes_p: list[float], seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    flags = (rng.random(n) < flag_p).astype(int)
    codes = rng.choice([1, 2, 3, 4, 5], size=n, p=codes_p)
    return [orjson.dumps({"model_id": "m", "model_version": "1", "prediction_id": f"q{start + i}",
                          "ts": (start + i) * 60 / n, "features": {"flag": int(flags[i]), "code": int(codes[i])},
                          "prediction": 0.1})
            for i in range(n)]


async def test_a_flag_and_an_integer_code_get_one_bin_per_value_and_their_shifts_fire() -> None:
    rng = np.random.default_rng(9)
    usual = [0.1, 0.2, 0.4, 0.2, 0.1]
    reference = ModelReference.build("m", "v1", {"flag": (rng.random(20_000) < 0.03).astype(float),
                                                 "code": rng.choice([1, 2, 3, 4, 5], size=20_000, p=usual)})
    assert reference.features["flag"].edges == (0.5,) and reference.features["code"].edges == (1.5, 2.5, 3.5, 4.5)
    world = World(ModelSpec.model_validate({"window": {"size_seconds": 60}, "thresholds": {"min_samples": 100}}))
    await world.state.windows.put_reference(reference)
    n = 2000
    windows = [(0.03, usual), (0.03, usual), (0.40, usual), (0.03, [0.3, 0.3, 0.2, 0.1, 0.1]), (0.03, usual)]
    values = [v for w, (flag_p, codes_p) in enumerate(windows)
              for v in flag_and_code_events(n, w * n, flag_p=flag_p, codes_p=codes_p, seed=w)]
    await world.predictions.process([Record(0, i, v) for i, v in enumerate(values)])
    fired = {(a.feature, int(a.window.start.timestamp() // 60)) for a in world.broker.alerts if a.state == "firing"}
    assert ("flag", 2) in fired and ("code", 3) in fired  # 3 % -> 40 % ones; the codes' mix
    assert not {f for f in fired if f[1] < 2}  # the usual windows are quiet


async def test_a_model_that_stops_sending_gets_a_silence_alert_its_next_event_resolves_on_any_worker() -> None:
    now = [1000.0]
    world = World(SPEC, settings={"idle_close_seconds": 0.0, "silence_seconds": 600.0}, monotonic=lambda: now[0])
    await world.state.windows.put_reference(reference())
    await world.predictions.process(drifting_records())
    now[0] += 599.0
    await world.predictions.idle()
    assert not [a for a in world.broker.alerts if a.detector == "silence"]
    now[0] += 2.0
    await world.predictions.idle()
    await world.predictions.idle()  # told once
    (silence,) = [a for a in world.broker.alerts if a.detector == "silence"]
    assert (silence.feature, silence.state, silence.severity, silence.window.start.timestamp()) == \
        ("__volume__", "firing", "warning", 130.0)  # since the last event
    assert silence.statistic >= 600.0 and silence.threshold == 600.0
    assert "__volume__||silence" in await world.state.retrain.firing_keys("m")
    # the model's partition moved to another worker meanwhile: its first batch of the model resolves it
    other = PredictionProcessor(world.settings, world.state.windows, Outputs(world.broker, world.settings.topics),
                                specs={"m": SPEC}, leases=world.state.leases,
                                retrain=RetrainStep(world.state.retrain, Outputs(world.broker, world.settings.topics)),
                                retry_delays=(0.0,))
    await other.process([Record(0, 1000, event(1000, 200.0, 0.0, 0.1))])
    resolved = [a for a in world.broker.alerts if a.detector == "silence" and a.state == "resolved"]
    assert [a.window.start.timestamp() for a in resolved] == [130.0]
    assert "__volume__||silence" not in await world.state.retrain.firing_keys("m")


async def test_a_probability_map_model_is_watched_per_class_and_its_class_mix_shift_fires_on_that_class() -> None:
    from driftline.streams.references import columns_from_rows

    rng = np.random.default_rng(11)
    classes = ("cat", "dog", "eel")

    def maps(n: int, alpha: tuple[float, float, float]) -> list[dict[str, float]]:
        return [dict(zip(classes, (round(float(v), 4) for v in rng.dirichlet(alpha)), strict=True)) for _ in range(n)]

    columns = columns_from_rows([{"x": float(rng.normal()), "p": m} for m in maps(5000, (2, 2, 2))],
                                source="validation.jsonl", prediction="p")
    reference = ModelReference.build("m", "v1", columns.numeric, categorical=columns.categorical)
    assert {"__prediction__[cat]", "__prediction__[dog]", "__prediction__[eel]"} <= set(reference.features)
    assert reference.features["__prediction__"].kind == "categorical"  # the predicted-class mix
    world = World(ModelSpec.model_validate({"window": {"size_seconds": 60}, "thresholds": {"min_samples": 100}}))
    await world.state.windows.put_reference(reference)
    n, values = 1000, []
    for w, alpha in enumerate([(2, 2, 2), (2, 2, 2), (2, 8, 2), (2, 2, 2)]):
        for i, m in enumerate(maps(n, alpha)):
            values.append(orjson.dumps({"model_id": "m", "model_version": "1", "prediction_id": f"c{w}-{i}",
                                        "ts": w * 60 + i * 60 / n, "features": {"x": float(rng.normal())},
                                        "prediction": m}))
    await world.predictions.process([Record(0, i, v) for i, v in enumerate(values)])
    fired = [a for a in world.broker.alerts if a.state == "firing"]
    assert {int(a.window.start.timestamp() // 60) for a in fired} == {2}  # the shifted window only
    by_class = {a.feature: a.statistic for a in fired if a.feature.startswith("__prediction__[")}
    assert max(by_class, key=lambda f: by_class[f]) == "__prediction__[dog]", by_class
    assert "__prediction__" in {a.feature for a in fired}  # and the predicted-class mix


async def test_a_feature_going_null_or_missing_fires_missing_and_steady_nulls_do_not() -> None:
    rng = np.random.default_rng(13)
    x = rng.normal(size=20_000)
    x[rng.random(20_000) < 0.01] = np.nan  # 1 % missing in the reference
    reference = ModelReference.build("m", "v1", {"x": x, "y": rng.normal(size=20_000)})
    assert reference.features["x"].nulls > 0
    world = World(ModelSpec.model_validate({"window": {"size_seconds": 60}, "thresholds": {"min_samples": 100}}))
    await world.state.windows.put_reference(reference)
    n, values = 2000, []
    for w in range(5):
        for i in range(n):
            null_x = rng.random() < (0.25 if w == 2 else 0.01)
            features: dict[str, object] = {"x": None if null_x else float(rng.normal()), "y": float(rng.normal())}
            if w == 3:
                del features["y"]  # a producer stopped sending y
            values.append(orjson.dumps({"model_id": "m", "model_version": "1", "prediction_id": f"n{w}-{i}",
                                        "ts": w * 60 + i * 60 / n, "features": features, "prediction": 0.1}))
    await world.predictions.process([Record(0, i, v) for i, v in enumerate(values)])
    missing = {(a.feature, a.state, int(a.window.start.timestamp() // 60)) for a in world.broker.alerts
               if a.detector == "missing"}
    assert ("x", "firing", 2) in missing and ("y", "firing", 3) in missing
    assert not {m for m in missing if m[1] == "firing" and m[2] not in (2, 3)}  # 1 % nulls as usual: quiet
    x_alert = next(a for a in world.broker.alerts if a.detector == "missing" and a.feature == "x")
    assert x_alert.statistic > 0.2 and x_alert.threshold < 0.2 and x_alert.evidence is None


async def test_wrong_types_values_out_of_range_and_new_categories_fire_their_own_signals() -> None:
    rng = np.random.default_rng(17)
    n_ref = 20_000
    amount: list[object] = [float(v) for v in rng.gamma(2.0, 50.0, size=n_ref)]
    for i in np.flatnonzero(rng.random(n_ref) < 0.003):  # the reference has its stray strings too
        amount[i] = "N/A"
    channel = rng.choice(["web", "app", "pos"], size=n_ref, p=[0.6, 0.3, 0.1]).tolist()
    reference = ModelReference.build("m", "v1", {"amount": amount, "age": rng.uniform(18, 90, size=n_ref)},
                                     categorical={"channel": channel})
    assert reference.features["amount"].mismatched > 0
    world = World(ModelSpec.model_validate({"window": {"size_seconds": 60}, "thresholds": {"min_samples": 100}}))
    await world.state.windows.put_reference(reference)
    n, values = 2000, []
    for w in range(8):  # the policy resolves after clean windows: the last ones give it those
        for i in range(n):
            a: object = float(rng.gamma(2.0, 50.0))
            if rng.random() < (0.2 if w == 2 else 0.003):
                a = "N/A" if rng.random() < 0.5 else "12.5"  # strings in a numeric feature, numeric-looking or not
            c = str(rng.choice(["web", "app", "pos"], p=[0.6, 0.3, 0.1]))
            if w == 3 and rng.random() < 0.08:
                c = "kiosk" if rng.random() < 0.75 else "atm"
            age = float(rng.uniform(18, 90)) if not (w == 4 and rng.random() < 0.1) else float(rng.uniform(-5, 0))
            values.append(orjson.dumps({"model_id": "m", "model_version": "1", "prediction_id": f"q{w}-{i}",
                                        "ts": w * 60 + i * 60 / n, "prediction": 0.1,
                                        "features": {"amount": a, "channel": c, "age": age}}))
    await world.predictions.process([Record(0, i, v) for i, v in enumerate(values)])
    fired = {(a.feature, a.detector, int(a.window.start.timestamp() // 60)) for a in world.broker.alerts
             if a.state == "firing" and a.detector in ("type_mismatch", "out_of_range", "unseen", "missing")}
    # each in its own window, and nothing while the stray strings stay at the reference's rate
    assert fired == {("amount", "type_mismatch", 2), ("channel", "unseen", 3), ("age", "out_of_range", 4)}
    unseen = next(a for a in world.broker.alerts if a.detector == "unseen" and a.state == "firing")
    assert unseen.evidence is not None and unseen.evidence.kind == "values"
    named = unseen.evidence.values
    assert list(named) == ["kiosk", "atm"] and 0.75 * 2000 * 0.08 * 0.8 < named["kiosk"] < 2000 * 0.08, named
    resolved = {(a.feature, a.detector) for a in world.broker.alerts if a.state == "resolved" and a.detector != "psi"}
    assert resolved == {("amount", "type_mismatch"), ("channel", "unseen"), ("age", "out_of_range")}
    latest = await world.state.windows.latest("m")
    assert latest["amount#type_mismatch"]["statistic"] < 0.01  # the last window: back to normal


async def test_a_traffic_drop_fires_volume_and_its_return_resolves_it() -> None:
    rng = np.random.default_rng(19)
    reference = ModelReference.build("m", "v1", {"x": rng.normal(size=20_000)})
    world = World(ModelSpec.model_validate({"window": {"size_seconds": 60}, "thresholds": {"min_samples": 50}}))
    await world.state.windows.put_reference(reference)
    per_window = [1000] * 8 + [100, 1000, 1000, 1000, 3000, 1000, 1000, 1000]  # a drop to 10 %, later a spike
    values = [orjson.dumps({"model_id": "m", "model_version": "1", "prediction_id": f"v{w}-{i}",
                            "ts": w * 60 + i * 60 / n, "features": {"x": float(rng.normal())}, "prediction": 0.1})
              for w, n in enumerate(per_window) for i in range(n)]
    await world.predictions.process([Record(0, i, v) for i, v in enumerate(values)])
    volume = [(a.state, a.severity, int(a.window.start.timestamp() // 60), round(a.statistic, 1))
              for a in world.broker.alerts if a.detector == "volume"]
    assert volume[0] == ("firing", "critical", 8, 0.1), volume
    assert ("firing", "warning", 12, 3.0) in volume  # a spike to 3x: a warning
    assert [v[0] for v in volume].count("resolved") == 2 and volume[-1][0] == "resolved", volume


async def test_feature_events_drive_the_same_windows_as_features_inside_predictions_exactly_once() -> None:
    rng = np.random.default_rng(23)
    reference = ModelReference.build("m", "v1", {"x": rng.normal(size=20_000), "y": rng.normal(size=20_000),
                                                 "__prediction__": rng.uniform(0, 1, 20_000)})
    embedded, apart = World(), World()
    for world in (embedded, apart):
        await world.state.windows.put_reference(reference)
    n, inline, predictions, features = 1000, [], [], []
    for w in range(4):
        for i in range(n):
            ts = w * 60 + i * 60 / n
            values = {"x": float(rng.normal(3 if w == 2 else 0, 1)), "y": float(rng.normal())}
            score = float(rng.uniform())
            inline.append(orjson.dumps({"model_id": "m", "model_version": "1", "prediction_id": f"f{w}-{i}",
                                        "ts": ts, "features": values, "prediction": score}))
            predictions.append(orjson.dumps({"model_id": "m", "model_version": "1", "prediction_id": f"f{w}-{i}",
                                             "ts": ts, "features": {}, "prediction": score}))
            features.append(orjson.dumps({"model_id": "m", "ts": ts, "prediction_id": f"f{w}-{i}",
                                          "features": values}))
    await embedded.predictions.process([Record(0, i, v) for i, v in enumerate(inline)])
    feature_records = [Record(0, i, v) for i, v in enumerate(features)]  # partition 0 of the other topic
    prediction_records = [Record(0, i, v) for i, v in enumerate(predictions)]
    for start in range(0, len(features), 500):  # the two topics read side by side, features a little ahead
        await apart.features.process(feature_records[max(0, start - 300):start + 500])  # redelivered: once
        await apart.predictions.process(prediction_records[start:start + 500])
    await apart.features.process([Record(0, len(features), orjson.dumps({"model_id": "m", "ts": "soon"}))])

    def drift(world: World) -> set[tuple[str, str, int]]:
        return {(a.feature, a.state, int(a.window.start.timestamp() // 60)) for a in world.broker.alerts}

    assert drift(apart) == drift(embedded) and ("x", "firing", 2) in drift(apart)
    for w in range(3):
        assert (await apart.state.windows.read_bucket("m", w)).features == \
            (await embedded.state.windows.read_bucket("m", w)).features
    assert [d.topic for d in apart.broker.letters] == [apart.settings.topics.features]


async def test_a_reference_switch_mid_window_leaves_the_window_on_the_version_that_binned_it() -> None:
    rng = np.random.default_rng(29)
    v1 = ModelReference.build("m", "v1", {"x": rng.normal(0, 1, 20_000)})
    v2 = ModelReference.build("m", "v2", {"x": rng.normal(5, 1, 20_000)})  # retrained on other data
    world = World(ModelSpec.model_validate({"window": {"size_seconds": 60}, "thresholds": {"min_samples": 100}}))
    await world.state.windows.put_reference(v1)

    def events(start: float, n: int, offset: int) -> list[Record]:
        return [Record(0, offset + i, orjson.dumps({
            "model_id": "m", "model_version": "1", "prediction_id": f"r{offset + i}", "ts": start + i * 30 / n,
            "features": {"x": float(rng.normal())}, "prediction": 0.1})) for i in range(n)]

    await world.predictions.process(events(0, 1000, 0))  # the first half of window 0, on v1
    await world.state.windows.put_reference(v2)
    world.predictions._monitors.forget("m")  # as a worker's refresh picks the new version up
    await world.predictions.process(events(30, 1000, 1000))  # the second half of window 0: still binned on v1
    await world.predictions.process(events(60, 2000, 2000) + events(120, 10, 4000))  # window 1 on v2
    assert (await world.state.windows.read_buckets("m", [0])).versions == {"v1"}
    judged = {(int(a.window.start.timestamp() // 60), a.reference_version) for a in world.broker.alerts
              if a.feature == "x" and a.state == "firing"}
    assert judged == {(1, "v2")}  # window 0 is calm on v1; window 1 drifts from v2 (the data did not move)
    latest = await world.state.windows.latest("m")
    assert latest["x"]["window"] == 1
