"""`driftline triggers exec -- CMD`: the command runs once per trigger id and consumer group, across
duplicates, restarts, failures and rebalances; a failing command leaves its trigger uncommitted for the
next run, and a stop request is honoured between attempts."""

from __future__ import annotations

import asyncio
import io
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftline.config.events import RetrainTrigger, TimeWindow
from driftline.config.settings import Settings
from driftline.streams.app.topics import ensure_topics
from driftline.streams.cli.triggers_exec import TriggerRunner
from driftline.streams.ingest.decode import encode

from ..support.kafka import produce
from ..support.triggers import RECORD, read_lines, start, stop, wait_lines

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]

FAIL = "import sys; sys.exit(3)"


def trigger(model: str, n: int) -> RetrainTrigger:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    return RetrainTrigger(trigger_id=f"{model}-t{n}", model_id=model, reason="drift", alert_ids=[f"a{n}"],
                          policy="critical_features>=2", training_window=TimeWindow(start=t, end=t),
                          evidence={"amount": 0.5})


async def send(settings: Settings, values: list[bytes], partition: int | None = None) -> None:
    """Onto the retrain topic, in order (one key: one partition)."""
    await produce(settings, values, topic=settings.topics.retrain, key="k", partition=partition)


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


async def test_each_group_runs_every_trigger_once(settings: Settings, tmp_path: Path) -> None:
    await ensure_topics(settings)
    model, retrain, notify = f"m-{settings.app_id[-8:]}", tmp_path / "retrain.txt", tmp_path / "notify.txt"
    first = trigger(model, 1)
    await send(settings, [encode(first)])
    runner = start(settings, RECORD, str(retrain))
    await wait_lines(retrain, 1)
    stop(runner)
    other = start(settings, RECORD, str(notify), group=f"{settings.app_id}.notify")  # another kind of job
    assert await wait_lines(notify, 1) == [f"{first.trigger_id} {first.trigger_id}"]
    stop(other)
    assert read_lines(retrain) == [f"{first.trigger_id} {first.trigger_id}"]


async def test_a_stop_during_the_retry_backoff_exits_at_once_uncommitted(settings: Settings, tmp_path: Path) -> None:
    await ensure_topics(settings)
    model, tried, ran = f"m-{settings.app_id[-8:]}", tmp_path / "tried.txt", tmp_path / "ran.txt"
    await send(settings, [encode(trigger(model, 1))])
    fail_noted = f"import sys; open({str(tried)!r}, 'a').write('x\\n'); sys.exit(3)"
    failing = start(settings, fail_noted, retries=5)  # backoff 1 s, 2 s, 4 s, ...
    await wait_lines(tried, 1)
    await asyncio.sleep(0.3)  # in the first backoff
    began = time.monotonic()
    out = await asyncio.to_thread(stop, failing)
    assert time.monotonic() - began < 5.0 and "stopping before it succeeded" in out
    assert len(read_lines(tried)) <= 2  # no further attempts after the stop
    runner = start(settings, RECORD, str(ran))
    assert await wait_lines(ran, 1) == [f"{model}-t1 {model}-t1"]
    stop(runner)


def named(settings: Settings, client_id: str) -> Settings:
    return settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"client_id": client_id})})


async def test_a_rebalance_during_a_long_command_does_not_run_it_twice(settings: Settings, tmp_path: Path) -> None:
    # Runner A holds every partition and runs a slow command for the trigger on partition 0; runner B joins
    # the group and, its member id sorting first, gets partition 0 (round robin), whose offset A has not
    # committed yet. B must wait for A's lease and then skip the trigger as done; A's commit of a partition
    # it lost fails and must not be fatal.
    await ensure_topics(settings)
    model, ran = f"m-{settings.app_id[-8:]}", tmp_path / "ran.txt"
    slow = RECORD.replace("import json,", "import time; time.sleep(10); import json,")
    await send(settings, [encode(trigger(model, 1))], partition=0)
    out_a, out_b = io.StringIO(), io.StringIO()
    a = TriggerRunner(named(settings, "z-runner"), [sys.executable, "-c", slow, str(ran)], retries=0, out=out_a)
    b = TriggerRunner(named(settings, "a-runner"), [sys.executable, "-c", RECORD, str(ran)], retries=0, out=out_b)
    task_a = asyncio.create_task(a.run())
    task_b: asyncio.Task[int] | None = None
    began = time.monotonic()
    try:
        while "is running it" not in out_b.getvalue():
            assert time.monotonic() - began < 30, out_a.getvalue() + out_b.getvalue()
            if task_b is None and time.monotonic() - began > 3:  # A has joined and started the command
                task_b = asyncio.create_task(b.run())
            await asyncio.sleep(0.1)
        await wait_lines(ran, 1)
        while "already ran; skipped" not in out_b.getvalue():
            assert time.monotonic() - began < 45, out_a.getvalue() + out_b.getvalue()
            await asyncio.sleep(0.1)
    finally:
        a.stop()
        b.stop()
        codes = [await asyncio.wait_for(t, 30) for t in (task_a, task_b) if t is not None]
    assert codes == [0, 0], out_a.getvalue() + out_b.getvalue()
    assert read_lines(ran) == [f"{model}-t1 {model}-t1"]
