"""The local stack's services are real and well-behaved: Kafka 4.1 works with aiokafka (group, manual
commit) and with a faust-streaming worker, Redis answers, restarts keep ports and data, stops leave nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import faust
import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from driftline.streams.stack import Endpoints, KafkaBroker, LocalStack, RedisServer

pytestmark = pytest.mark.integration


def pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def admin_client(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    async with admin_client(bootstrap) as admin:
        response = await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    assert [code for _, code, *_ in response.topic_errors] == [0]


async def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def test_topic_can_be_created_and_is_listed(stack_endpoints: Endpoints) -> None:
    topic = unique("created")
    await create_topic(stack_endpoints.kafka_bootstrap, topic, partitions=3)
    async with admin_client(stack_endpoints.kafka_bootstrap) as admin:
        assert topic in await admin.list_topics()
        [described] = await admin.describe_topics([topic])
    assert len(described["partitions"]) == 3


async def test_aiokafka_group_consumes_and_commits(stack_endpoints: Endpoints) -> None:
    topic, group = unique("probe"), unique("g")
    await create_topic(stack_endpoints.kafka_bootstrap, topic)
    await produce(stack_endpoints.kafka_bootstrap, topic, [f"m{i}".encode() for i in range(10)])

    async def consume(n: int) -> tuple[list[bytes], int | None]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=stack_endpoints.kafka_bootstrap, group_id=group,
            enable_auto_commit=False, auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            got: list[bytes] = []
            while len(got) < n:
                batch = await consumer.getmany(timeout_ms=10_000, max_records=n - len(got))
                assert batch, "no messages within 10 s"
                got += [m.value for msgs in batch.values() for m in msgs if m.value is not None]
            await consumer.commit()
            return got, await consumer.committed(TopicPartition(topic, 0))
        finally:
            await consumer.stop()

    assert await consume(4) == ([f"m{i}".encode() for i in range(4)], 4)
    # A new consumer of the group resumes at the committed offset: the commit reached the broker.
    assert await consume(6) == ([f"m{i}".encode() for i in range(4, 10)], 10)
    async with admin_client(stack_endpoints.kafka_bootstrap) as admin:
        offsets = await admin.list_consumer_group_offsets(group)
    assert offsets[TopicPartition(topic, 0)].offset == 10


def build_faust_app(
    bootstrap: str, topic: str, datadir: Path, seen: list[bytes], want: int, done: asyncio.Event
) -> faust.App:
    """A faust app made here, inside the test: nothing global is created at import time."""
    app = faust.App(
        unique("driftline-stack-test"),
        broker=f"kafka://{bootstrap}",
        datadir=str(datadir),  # faust would otherwise make <app id>-data in the working directory
        store="memory://",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
        topic_disable_leader=True,  # no leader-election topic: the app uses only the topic we made
    )
    source = app.topic(topic, key_serializer="raw", value_serializer="raw")

    @app.agent(source, concurrency=1)
    async def collect(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            seen.append(value)
            if len(seen) >= want:
                done.set()

    return app


async def test_faust_worker_consumes_events(stack_endpoints: Endpoints, tmp_path: Path) -> None:
    topic = unique("faust")
    await create_topic(stack_endpoints.kafka_bootstrap, topic)
    sent = [f"e{i}".encode() for i in range(5)]
    await produce(stack_endpoints.kafka_bootstrap, topic, sent)
    seen: list[bytes] = []
    done = asyncio.Event()
    app = build_faust_app(stack_endpoints.kafka_bootstrap, topic, tmp_path / "faust", seen, len(sent), done)
    await app.start()  # the worker's services (consumer, agents) in this event loop, no Worker/argv
    try:
        async with asyncio.timeout(60):
            await done.wait()
    finally:
        await app.stop()
    assert seen == sent


def test_redis_ping_set_get(stack_endpoints: Endpoints) -> None:
    client = redis.Redis.from_url(stack_endpoints.redis_url)
    try:
        key = unique("k")
        assert client.ping()
        client.set(key, b"v", ex=60)
        assert client.get(key) == b"v"
    finally:
        client.close()


def test_redis_restart_keeps_port_and_aof_keeps_data_through_kill_9(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", aof=True)
    server.start()
    server.start()  # idempotent: still the same process
    first_pid, port = server.pid, server.port
    client = redis.Redis.from_url(server.url)
    client.set("k", "v")
    client.close()
    server.kill()  # kill -9: appendfsync always means the acknowledged write is on disk
    assert not pid_alive(first_pid)
    server.start()
    assert server.port == port and server.pid != first_pid
    client = redis.Redis.from_url(server.url)
    assert client.get("k") == b"v"
    client.close()
    pid = server.pid
    server.stop()
    server.stop()  # idempotent
    assert not pid_alive(pid) and not server.alive()


async def test_kafka_restart_and_kill_9_keep_port_and_data(tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path / "kafka")
    await asyncio.to_thread(broker.start)
    assert broker.start_seconds is not None and broker.start_seconds > 0
    topic = unique("durable")
    await create_topic(broker.bootstrap, topic)
    await produce(broker.bootstrap, topic, [b"before"])
    first_pid, port = broker.pid, broker.port
    await asyncio.to_thread(broker.kill)
    assert not pid_alive(first_pid)
    await asyncio.to_thread(broker.restart)
    assert broker.port == port and broker.alive() and broker.pid != first_pid
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    assert message.value == b"before"
    pid = broker.pid
    await asyncio.to_thread(broker.stop)
    assert not pid_alive(pid) and not broker.alive()


def test_local_stack_stop_leaves_no_process_and_removes_its_dir() -> None:
    with LocalStack() as stack:
        pids = [stack.kafka.pid, stack.redis.pid]
        workdir = stack.workdir
        assert all(pid_alive(pid) for pid in pids)
        assert stack.start_times is not None
    assert not any(pid_alive(pid) for pid in pids)
    assert not workdir.exists()


def test_cli_stack_up_outlives_the_command_and_down_stops_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    from driftline.streams.stack import KAFKA_VERSION, kafka_libs

    kafka_home = kafka_libs().parent
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"kafka-{KAFKA_VERSION}").symlink_to(kafka_home)  # reuse the fetched jars, own state dir
    env = {**os.environ, "DRIFTLINE_CACHE_DIR": str(cache)}
    env.pop("DRIFTLINE_KAFKA_BOOTSTRAP", None)
    env.pop("DRIFTLINE_REDIS_URL", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "driftline.streams.cli.main", "stack", *args],
            env=env, capture_output=True, text=True, timeout=180, check=False,
        )

    up = cli("up")
    try:
        assert up.returncode == 0, up.stderr
        exports = dict(line.removeprefix("export ").split("=", 1) for line in up.stdout.splitlines())
        assert set(exports) == {"DRIFTLINE_KAFKA_BOOTSTRAP", "DRIFTLINE_REDIS_URL"}  # stdout is eval-able
        client = redis.Redis.from_url(exports["DRIFTLINE_REDIS_URL"])
        assert client.ping()  # the command has exited; the services have not
        client.close()
        status = cli("status")
        assert status.returncode == 0 and status.stdout.count(" up ") == 2, status.stdout
        assert cli("up").stdout == up.stdout  # already up: same addresses, nothing new started
    finally:
        down = cli("down")
    assert down.returncode == 0, down.stderr
    assert cli("status").returncode == 1
    assert not (cache / "stack").exists()
