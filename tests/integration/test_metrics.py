"""The worker's Prometheus endpoint on a real stack: events consumed, dead letters by reason,
lag, batch latency, window statistics and alerts, scraped over HTTP."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from pathlib import Path

import pytest

from driftline.config.settings import Settings
from driftline.streams.simulate import FraudSimulator
from driftline.streams.sketch_store import SketchStore
from driftline.streams.topics import ensure_topics
from driftline.streams.worker_process import WorkerProcess

from .test_end_to_end import wait_until
from .test_monitor import produce

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
    store = SketchStore.from_url(settings.redis.url.get_secret_value())
    await store.put_reference(sim.reference())
    topic = settings.topics.predictions
    try:
        with WorkerProcess(settings, log_path=tmp_path / "worker.log") as worker:
            events = [e for w in range(4)
                      for e in sim.events(window=w, n=500, shift={"amount": 2.0} if w == 2 else None)]
            produced = await produce(settings, iter([*events, {"model_id": "nobody", "junk": True}]))

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
