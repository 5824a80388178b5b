"""`driftline triggers exec -- CMD`: the command runs once per trigger id, across duplicates,
restarts and failures; a failing command leaves its trigger uncommitted for the next run."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from driftline.config.events import RetrainTrigger, TimeWindow
from driftline.config.settings import Settings
from driftline.streams.codec import encode
from driftline.streams.kafka_client import client_options
from driftline.streams.topics import ensure_topics
from driftline.streams.worker_process import _worker_env

pytestmark = pytest.mark.integration

RECORD = "import json, os, sys; t = json.load(sys.stdin); open(sys.argv[1], 'a').write(t['trigger_id'] + ' ' + os.environ['DRIFTLINE_TRIGGER_ID'] + '\\n')"  # noqa: E501
FAIL = "import sys; sys.exit(3)"


def trigger(model: str, n: int) -> RetrainTrigger:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    return RetrainTrigger(trigger_id=f"{model}-t{n}", model_id=model, reason="drift", alert_ids=[f"a{n}"],
                          policy="critical_features>=2", training_window=TimeWindow(start=t, end=t),
                          evidence={"amount": 0.5})


async def send(settings: Settings, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(settings.topics.retrain, value, key=b"k")
    finally:
        await producer.stop()


def start(settings: Settings, script: str, *args: str, retries: int = 0) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "driftline.streams.cli", "triggers", "exec", "--retries", str(retries), "--",
            sys.executable, "-c", script, *args]
    return subprocess.Popen(argv, env=_worker_env(settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def wait_lines(path: Path, n: int, seconds: float = 30.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        lines = read_lines(path)
        if len(lines) >= n:
            return lines
        await asyncio.sleep(0.2)
    raise AssertionError(f"{path} has fewer than {n} lines after {seconds}s")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    return out


async def test_each_trigger_runs_once_across_duplicates_and_restarts(settings: Settings, tmp_path: Path) -> None:
    await ensure_topics(settings)
    model, ran = f"m-{settings.app_id[-8:]}", tmp_path / "ran.txt"
    first, second, third = (trigger(model, n) for n in (1, 2, 3))
    await send(settings, [encode(first), encode(second), b"not a trigger", encode(first)])  # one duplicate
    runner = start(settings, RECORD, str(ran))
    await wait_lines(ran, 2)
    await asyncio.sleep(2.0)  # time enough to (wrongly) run the duplicate
    out = stop(runner)
    assert "unreadable trigger" in out and "already ran" in out
    await send(settings, [encode(third), encode(second)])
    runner = start(settings, RECORD, str(ran))
    await wait_lines(ran, 3)
    await asyncio.sleep(2.0)
    stop(runner)
    assert read_lines(ran) == [f"{t.trigger_id} {t.trigger_id}" for t in (first, second, third)]  # stdin and env agree


async def test_a_failing_command_is_retried_and_left_uncommitted(settings: Settings, tmp_path: Path) -> None:
    await ensure_topics(settings)
    model, ran = f"m-{settings.app_id[-8:]}", tmp_path / "ran.txt"
    await send(settings, [encode(trigger(model, 1))])
    failing = start(settings, FAIL, retries=1)
    out, _ = await asyncio.to_thread(failing.communicate, timeout=60)
    assert failing.returncode == 1 and "exited 3; retrying" in out and "without committing" in out
    runner = start(settings, RECORD, str(ran))
    assert await wait_lines(ran, 1) == [f"{model}-t1 {model}-t1"]  # the next run picks it up
    stop(runner)
