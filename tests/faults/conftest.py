"""Fixtures of the fault suite: a local stack of its own per scenario (it gets killed), and the alerts of
an undisturbed run of the same workload, computed once, which every scenario must reproduce."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from driftline.config.settings import KafkaSettings, RedisSettings, Settings, TopicSettings, load_settings
from driftline.streams.app.topics import ensure_topics
from driftline.streams.stack.local import LocalStack
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.oracle import AlertLog, Workload, produce, read_all, wait_counted
from driftline.streams.testing.worker_process import WorkerProcess

WORKLOAD = Workload()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.path):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.faults)


def stack_settings(stack: LocalStack, **overrides: object) -> Settings:
    run = uuid.uuid4().hex[:8]
    return load_settings(
        app_id=f"driftline-fault-{run}",
        kafka=KafkaSettings(bootstrap=stack.kafka.bootstrap),
        redis=RedisSettings(url=stack.redis.url),
        topics=TopicSettings(**{name: f"f{run}.{name}" for name in TopicSettings.model_fields}),
        # the runs compare their alerts: nothing decided by the wall clock
        **{"idle_close_seconds": 0.0, "silence_seconds": 0.0, **overrides},
    )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    """Kafka and Redis (append-only file, fsync always) of this scenario alone: it may kill them."""
    with LocalStack(tmp_path / "stack", redis_aof=True) as s:
        yield s


@pytest.fixture
def settings(stack: LocalStack) -> Settings:
    return stack_settings(stack)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[RedisWindowStore]:
    await ensure_topics(settings)
    s = RedisWindowStore.from_url(settings.redis.url.get_secret_value())
    await WORKLOAD.set_references(s)
    yield s
    await s.close()


@pytest.fixture(scope="session")
async def undisturbed_alert_ids(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The alert ids of the workload processed with no fault at all (ids depend on model, feature, window,
    state and reference version only, so they are the same on every stack)."""
    workdir = tmp_path_factory.mktemp("undisturbed")
    with LocalStack(workdir / "stack") as stack:
        settings = stack_settings(stack)
        await ensure_topics(settings)
        store = RedisWindowStore.from_url(settings.redis.url.get_secret_value())
        try:
            await WORKLOAD.set_references(store)
            await produce(settings, WORKLOAD)
            with WorkerProcess(settings, log_path=workdir / "worker.log", loglevel="warning"):
                now = await wait_counted(store, WORKLOAD, WORKLOAD.events, seconds=120)
            assert now.events == WORKLOAD.events
            alerts = AlertLog.of(await read_all(settings, settings.topics.alerts))
        finally:
            await store.close()
    assert alerts.ids and not alerts.conflicting
    return alerts.ids
