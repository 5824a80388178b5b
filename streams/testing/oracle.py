"""The fault suite's and the chaos benchmark's oracle: a known workload, and what must hold afterwards.

The workload is seeded FraudSimulator traffic of several models (keyed by model
id, as producers key predictions), with drift in a known run of windows, sent at
a chosen pace so faults land while events flow. Afterwards, whatever was
killed on the way:

- every event in the predictions topic is counted exactly once in Redis: the
  window counts plus the late counter equal the records in the topic, and every
  feature's bins (nulls included) add up to the same number — ``lost`` and
  ``double_counted`` are the shortfall and the excess;
- the alerts published are those of an undisturbed run (same ids), and an id
  published more than once always carries the same content.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from driftline.config import Settings
from driftline.detectors import values_counted
from driftline.streams.app.kafka import kafka_options
from driftline.streams.state import TRANSIENT_ERRORS, WindowStore
from driftline.streams.testing.simulate import EPOCH, FraudSimulator

DRIFTED = ("amount", "merchant_risk_score")


@dataclass(frozen=True)
class Workload:
    """``models`` models x ``windows`` one-minute windows x ``per_window`` events; the even-numbered models
    drift (``DRIFTED`` features shifted by 3 std) in windows ``drift`` (a half-open range)."""

    models: int = 4
    windows: int = 12
    per_window: int = 1500
    drift: tuple[int, int] = (4, 7)
    prefix: str = "fault"

    @property
    def events(self) -> int:
        return self.models * self.windows * self.per_window

    @property
    def sims(self) -> list[FraudSimulator]:
        return [FraudSimulator(model_id=f"{self.prefix}-{i}", seed=100 + i) for i in range(self.models)]

    def window_events(self, window: int) -> Iterator[dict[str, object]]:
        """Window ``window`` of every model, interleaved as concurrent traffic would be."""
        drifting = self.drift[0] <= window < self.drift[1]
        streams = [
            sim.events(window=window, n=self.per_window,
                       shift=dict.fromkeys(DRIFTED, 3.0) if drifting and i % 2 == 0 else None)
            for i, sim in enumerate(self.sims)
        ]
        for events in zip(*streams, strict=True):
            yield from events

    async def set_references(self, store: WindowStore) -> None:
        for sim in self.sims:
            await store.put_reference(sim.reference())

    def closed_windows_expected(self) -> int:
        """Per model: every window but the last (nothing after it moves event time past its end)."""
        return self.windows - 1


async def produce(settings: Settings, workload: Workload, *, seconds: float = 0.0, key_by: str = "model_id") -> int:
    """Send the workload window by window, spread over about ``seconds``; returns the events sent.

    Keyed by ``model_id`` (a model on one partition) or ``prediction_id`` (a hot model's events spread
    over every partition).

    Idempotent and patient (two minutes per request), so a broker stopped or
    killed meanwhile delays the producer but never makes it send an event twice.
    """
    producer = AIOKafkaProducer(
        **kafka_options(settings.kafka), acks="all", enable_idempotence=True, linger_ms=20,
        max_batch_size=262_144, request_timeout_ms=120_000, retry_backoff_ms=250,
    )
    await producer.start()
    sent, began = 0, time.monotonic()
    try:
        for window in range(workload.windows):
            futures = [
                await producer.send(settings.topics.predictions, orjson.dumps(e), key=str(e[key_by]).encode())
                for e in workload.window_events(window)
            ]
            await asyncio.gather(*futures)
            sent += len(futures)
            ahead = began + seconds * (window + 1) / workload.windows - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
    finally:
        await producer.stop()
    return sent


@dataclass(frozen=True)
class Counted:
    """What Redis holds for the workload: events in windows, late events, and values per feature."""

    in_windows: int
    late: int
    per_feature: dict[str, int]

    @property
    def events(self) -> int:
        return self.in_windows + self.late


async def counted(store: WindowStore, workload: Workload) -> Counted:
    first = int(EPOCH.timestamp()) // 60
    in_windows, late = 0, 0
    per_feature: defaultdict[str, int] = defaultdict(int)
    for sim in workload.sims:
        late += await store.late_count(sim.model_id)
        for w in range(first - 1, first + workload.windows + 1):
            window = await store.read_buckets(sim.model_id, [w])
            in_windows += window.n_events
            for feature, bins in window.features.items():
                per_feature[feature] += values_counted(bins)
    return Counted(in_windows, late, dict(per_feature))


async def wait_counted(
    store: WindowStore, workload: Workload, expected: int, *, seconds: float, alive: object = None
) -> Counted:
    """Poll until ``expected`` events are counted and every finished window is closed (or time is up),
    then wait a little longer: anything more would be a double count and must get the chance to show."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            now = await counted(store, workload)
            closed = [await store.closed_window_count(sim.model_id) for sim in workload.sims]
        except TRANSIENT_ERRORS:  # Redis restarted under this client: its pooled connection is gone
            await asyncio.sleep(0.5)
            continue
        done = now.events >= expected and min(closed) >= workload.closed_windows_expected()
        if done or time.monotonic() > deadline:
            break
        if callable(alive):
            alive()
        await asyncio.sleep(0.5)
    if done:
        await asyncio.sleep(3.0)
    return await counted(store, workload)


async def topic_records(settings: Settings, topic: str) -> int:
    """How many records the topic holds (the sum of its partitions' end offsets)."""
    consumer, partitions = await _consumer_of(settings, topic)
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def _consumer_of(settings: Settings, topic: str) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
    """A group-less consumer assigned every partition of ``topic`` (subscribing first loads its metadata).

    ``earliest``: the subscription may start resetting positions before it is replaced by the assignment,
    and a late reset to the default ``latest`` once moved a fresh seek to the beginning to the end: the
    topic then read as empty (seen under CPU load)."""
    consumer = AIOKafkaConsumer(topic, **kafka_options(settings.kafka), enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    deadline = time.monotonic() + 30
    while not consumer.partitions_for_topic(topic) and time.monotonic() < deadline:  # noqa: ASYNC110 — polling
        await asyncio.sleep(0.1)  # the subscription's metadata may arrive just after start()
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    if not partitions:
        await consumer.stop()
        raise RuntimeError(f"no partitions known for topic {topic!r}")
    consumer.unsubscribe()
    consumer.assign(partitions)
    return consumer, partitions


async def read_all(settings: Settings, topic: str) -> list[bytes]:
    """Every record of a topic, from the beginning to its end now (keyed by position: each read once)."""
    consumer, partitions = await _consumer_of(settings, topic)
    try:
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: dict[tuple[int, int], bytes | None] = {}
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=1000)
            records.update({(m.partition, m.offset): m.value for messages in batch.values() for m in messages
                            if m.offset < ends[TopicPartition(topic, m.partition)]})
        expected = sum(ends[tp] - starts[tp] for tp in partitions)
        if len(records) != expected:
            raise RuntimeError(f"read {len(records)} records of {topic!r}, its offsets say {expected}")
        return [value for _, value in sorted(records.items()) if value is not None]
    finally:
        await consumer.stop()


@dataclass
class AlertLog:
    """The alerts topic read whole: per alert id, the distinct contents published under it."""

    contents: dict[str, set[bytes]] = field(default_factory=dict)
    published: int = 0

    @classmethod
    def of(cls, values: list[bytes]) -> AlertLog:
        log = cls(published=len(values))
        for value in values:
            alert_id = orjson.loads(value)["alert_id"]
            log.contents.setdefault(alert_id, set()).add(value)
        return log

    @property
    def ids(self) -> set[str]:
        return set(self.contents)

    @property
    def conflicting(self) -> list[str]:
        """Ids published with more than one content (never allowed; a plain repeat is at-least-once)."""
        return sorted(i for i, values in self.contents.items() if len(values) > 1)

    @property
    def repeats(self) -> int:
        return self.published - len(self.contents)


@dataclass(frozen=True)
class RunReport:
    events: int
    lost: int
    double_counted: int
    features_off: dict[str, int]
    """Features whose values counted differ from the events (feature -> counted)."""
    missing_alerts: list[str]
    unexpected_alerts: list[str]
    conflicting_alerts: list[str]
    repeated_alerts: int

    @property
    def exact(self) -> bool:
        return not (self.lost or self.double_counted or self.features_off or self.missing_alerts
                    or self.unexpected_alerts or self.conflicting_alerts)


def judge(expected_events: int, now: Counted, alerts: AlertLog, expected_alert_ids: set[str] | None) -> RunReport:
    """Compare what Redis and the alerts topic hold with what the workload put in."""
    features_off = {f: n for f, n in now.per_feature.items() if n != now.in_windows}
    expected_ids = alerts.ids if expected_alert_ids is None else expected_alert_ids
    return RunReport(
        events=expected_events,
        lost=max(0, expected_events - now.events),
        double_counted=max(0, now.events - expected_events),
        features_off=features_off,
        missing_alerts=sorted(expected_ids - alerts.ids),
        unexpected_alerts=sorted(alerts.ids - expected_ids),
        conflicting_alerts=alerts.conflicting,
        repeated_alerts=alerts.repeats,
    )
