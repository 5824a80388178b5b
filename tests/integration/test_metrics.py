"""The worker's Prometheus endpoint on a real stack: events consumed, dead letters by reason,
lag, batch latency, window statistics and alerts, scraped over HTTP."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pytest

from driftline.config.settings import Settings
from driftline.streams.app.metrics import WorkerMetrics
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.consumer import BatchIngest
from driftline.streams.ingest.decode import Record
from driftline.streams.ingest.retry import Guard
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.kafka import produce
from ..support.waiting import wait_until

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def test_metrics_endpoint_reports_the_stream(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    settings = settings.model_copy(update={"metrics_port": port})
    sim = FraudSimulator(model_id=f"metrics-{settings.app_id[-8:]}", seed=2)
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    await store.put_reference(sim.reference())
    topic = settings.topics.predictions
    try:
        with WorkerProcess(settings, log_path=tmp_path / "worker.log") as worker:
            events = [e for w in range(4)
                      for e in sim.events(window=w, n=500, shift={"amount": 2.0} if w == 2 else None)]
            produced = await produce(settings, [*events, {"model_id": "nobody", "junk": True}])

            async def scraped_all() -> bool:
                assert worker.alive(), worker.log_tail()
                try:
                    samples = await asyncio.to_thread(scrape, port)
                except OSError:
                    return False
                return samples.get(f'driftline_events_consumed_total{{topic="{topic}"}}', 0) >= produced

            await wait_until(scraped_all, 60, "the metrics to show every event")
            samples = await asyncio.to_thread(scrape, port)
    finally:
        await store.close()
    assert samples[f'driftline_events_consumed_total{{topic="{topic}"}}'] == produced
    assert samples[f'driftline_dead_lettered_total{{reason="schema",topic="{topic}"}}'] == 1
    assert sum(v for k, v in samples.items() if k.startswith("driftline_consumer_lag{")) == 0
    assert samples[f'driftline_batch_seconds_count{{topic="{topic}"}}'] >= 1
    assert samples[f'driftline_alerts_total{{model="{sim.model_id}",severity="critical",state="firing"}}'] >= 1
    amount = [v for k, v in samples.items()
              if k.startswith("driftline_window_statistic{") and 'feature="amount"' in k and 'test="psi"' in k]
    assert amount and amount[0] >= 0  # the last closed window's PSI of amount


class GatedProcessor:
    """Processes batches instantly, except that the second one waits until the test opens the gate."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def process(self, records: Sequence[Record], guard: Guard | None = None) -> None:
        self.sizes.append(len(records))
        if len(self.sizes) == 2:
            self.waiting.set()
            await self.gate.wait()

    async def idle(self) -> None:
        """Nothing time-driven."""


async def test_lag_is_highwater_minus_position_after_each_batch_and_zero_when_caught_up(settings: Settings) -> None:
    await ensure_topics(settings)
    produced = await produce(settings, ({"model_id": "one-key", "i": i} for i in range(300)))  # one partition
    metrics, processor = WorkerMetrics(), GatedProcessor()
    topic = settings.topics.predictions
    ingest = BatchIngest(settings, topic, processor, group_suffix="lag", max_records=50, metrics=metrics)
    await ingest.start()
    try:
        await asyncio.wait_for(processor.waiting.wait(), 30)
        text = metrics.render().decode()  # batch 1 (50 records) committed, batch 2 in flight
        lags = [line for line in text.splitlines() if line.startswith("driftline_consumer_lag{")]
        assert len(lags) == 1 and lags[0].endswith(f" {float(produced - 50)}"), lags
        assert f'driftline_events_consumed_total{{topic="{topic}"}} 50.0' in text
        processor.gate.set()

        async def caught_up() -> bool:
            return ingest.events_consumed == produced

        await wait_until(caught_up, 30, "the ingest to consume everything")
        await asyncio.sleep(1.2)  # an idle getmany (500 ms) refreshes the lag from the empty fetch
    finally:
        await ingest.stop()
    text = metrics.render().decode()
    assert [line.rpartition(" ")[2] for line in text.splitlines()
            if line.startswith("driftline_consumer_lag{")] == ["0.0"]
    assert f'driftline_batch_records_sum{{topic="{topic}"}} {float(produced)}' in text
    assert f'driftline_batch_seconds_count{{topic="{topic}"}} {float(len(processor.sizes))}' in text


class CountingProcessor:
    """Accepts every batch at once."""

    async def process(self, records: Sequence[Record], guard: Guard | None = None) -> None:
        """Nothing to do."""

    async def idle(self) -> None:
        """Nothing time-driven."""


async def produce_to_partitions(settings: Settings, per_partition: int, partitions: int = 4) -> None:
    for p in range(partitions):
        await produce(settings, [b"{}"] * per_partition, partition=p)


def lag_partitions(metrics: WorkerMetrics) -> set[str]:
    return {line.split('partition="')[1].split('"')[0] for line in metrics.render().decode().splitlines()
            if line.startswith("driftline_consumer_lag{")}


async def test_a_worker_stops_reporting_the_lag_of_partitions_it_gave_away(settings: Settings) -> None:
    await ensure_topics(settings)  # 4 partitions
    await produce_to_partitions(settings, 40)
    first, second = WorkerMetrics(), WorkerMetrics()
    a = BatchIngest(settings, settings.topics.predictions, CountingProcessor(), group_suffix="shared", metrics=first)
    b = BatchIngest(settings, settings.topics.predictions, CountingProcessor(), group_suffix="shared", metrics=second)
    await a.start()
    try:
        async def a_read_all() -> bool:
            return a.events_consumed == 160 and lag_partitions(first) == {"0", "1", "2", "3"}

        await wait_until(a_read_all, 30, "the first worker to read all four partitions")
        await b.start()
        try:
            async def a_gave_some_away() -> bool:
                return len(lag_partitions(first)) < 4

            await wait_until(a_gave_some_away, 30, "the first worker to forget the lag of revoked partitions")
            await produce_to_partitions(settings, 1)

            async def both_read_the_rest() -> bool:
                return a.events_consumed + b.events_consumed == 164

            await wait_until(both_read_the_rest, 30, "the two workers to read the new records")
            await asyncio.sleep(1.2)
            mine, theirs = lag_partitions(first), lag_partitions(second)
            assert mine and theirs and not mine & theirs and mine | theirs == {"0", "1", "2", "3"}, (mine, theirs)
        finally:
            await b.stop()
    finally:
        await a.stop()
