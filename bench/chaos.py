"""Chaos: a long stream while the worker, the broker and Redis are killed and restarted on a schedule.

Starts its own local stack (Redis with an fsync-always append-only file, as a
production Redis holding driftline state should run), sends the fault oracle's
workload (``streams/testing/oracle.py``: 4 models, 12 drifting windows) at a steady
pace, and every ``--every`` seconds does the next fault of the rotation:

    worker kill -9 (restarted at once) · broker kill -9 (back after 3 s) ·
    Redis kill -9 (back after 3 s) · worker SIGTERM (restarted) · broker clean stop (back after 3 s)

Then it lets one worker finish and judges the result exactly (every event
counted once, no alert id published with two contents). Ends with one JSON line:
{"events", "kills", "lost", "double_counted", "dead_lettered", "max_rss_mb", ...}.

    python bench/chaos.py [--events 504000] [--seconds 90] [--every 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

from driftline.config.settings import KafkaSettings, RedisSettings, Settings, TopicSettings, load_settings
from driftline.streams.app.topics import ensure_topics
from driftline.streams.stack.local import LocalStack
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.oracle import AlertLog, Workload, judge, produce, read_all, topic_records, wait_counted
from driftline.streams.testing.worker_process import WorkerProcess

ROTATION = ("worker-kill", "broker-kill", "redis-kill", "worker-term", "broker-stop")


class Chaos:
    def __init__(self, stack: LocalStack, settings: Settings, logs: Path) -> None:
        self.stack, self.settings, self.logs = stack, settings, logs
        self.worker = self._new_worker()
        self.kills: dict[str, int] = dict.fromkeys(ROTATION, 0)
        self.max_rss_mb = 0.0

    def _new_worker(self) -> WorkerProcess:
        n = len(list(self.logs.glob("worker-*.log")))
        worker = WorkerProcess(self.settings, log_path=self.logs / f"worker-{n}.log", loglevel="warning")
        worker.start()
        return worker

    async def fault(self, name: str) -> None:
        self.kills[name] += 1
        if name == "worker-kill":
            self.worker.kill()
            self.worker = self._new_worker()
        elif name == "worker-term":
            self.worker.stop(grace_seconds=30)
            self.worker = self._new_worker()
        elif name in ("broker-kill", "broker-stop"):
            self.stack.kafka.kill() if name == "broker-kill" else self.stack.kafka.stop()
            await asyncio.sleep(3)
            await asyncio.to_thread(self.stack.kafka.start)
        elif name == "redis-kill":
            self.stack.redis.kill()
            await asyncio.sleep(3)
            await asyncio.to_thread(self.stack.redis.start)

    async def sample_rss(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.max_rss_mb = max(self.max_rss_mb, self.worker.rss_mb())
            await asyncio.sleep(0.5)


async def run(events: int, seconds: float, every: float) -> dict[str, object]:
    workload = Workload(per_window=max(1, events // (4 * 12)), prefix="chaos")
    workdir = Path(tempfile.mkdtemp(prefix="driftline-chaos-"))
    began = time.monotonic()
    with LocalStack(workdir / "stack", redis_aof=True) as stack:
        run_id = uuid.uuid4().hex[:8]
        settings = load_settings(
            app_id=f"driftline-chaos-{run_id}",
            kafka=KafkaSettings(bootstrap=stack.kafka.bootstrap),
            redis=RedisSettings(url=stack.redis.url),
            topics=TopicSettings(**{name: f"c{run_id}.{name}" for name in TopicSettings.model_fields}),
        )
        await ensure_topics(settings)
        store = RedisWindowStore.from_settings(settings.redis)
        await workload.set_references(store)
        chaos = Chaos(stack, settings, workdir)
        stop = asyncio.Event()
        sampler = asyncio.create_task(chaos.sample_rss(stop))
        producing = asyncio.create_task(produce(settings, workload, seconds=seconds))
        i = 0
        while not producing.done():
            await asyncio.sleep(every)
            if not producing.done():
                await chaos.fault(ROTATION[i % len(ROTATION)])
                i += 1
        sent = await producing
        in_topic = await topic_records(settings, settings.topics.predictions)
        now = await wait_counted(store, workload, in_topic, seconds=600)
        stop.set()
        await sampler
        alerts = AlertLog.of(await read_all(settings, settings.topics.alerts))
        dead = len(await read_all(settings, settings.topics.deadletter))
        chaos.worker.stop()
        await store.close()
    verdict = judge(in_topic, now, alerts, None)
    return {
        "events": in_topic,
        "sent": sent,
        "kills": sum(chaos.kills.values()),
        "kills_by_kind": chaos.kills,
        "lost": verdict.lost,
        "double_counted": verdict.double_counted,
        "features_off": len(verdict.features_off),
        "late": now.late,
        "dead_lettered": dead,
        "alerts": len(alerts.ids),
        "alert_repeats": verdict.repeated_alerts,
        "conflicting_alerts": len(verdict.conflicting_alerts),
        "max_rss_mb": round(chaos.max_rss_mb, 1),
        "seconds": round(time.monotonic() - began, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=504_000)
    parser.add_argument("--seconds", type=float, default=90.0, help="how long the stream is spread over")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between faults")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.events, args.seconds, args.every))))


if __name__ == "__main__":
    main()
