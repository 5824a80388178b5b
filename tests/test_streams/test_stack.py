"""The local stack's services are real and well-behaved: Kafka 4.1 works with aiokafka in a
consumer group with manual commits, Redis answers, restarts keep ports, stops leave nothing."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from driftline.streams.stack import Endpoints, KafkaBroker, RedisServer

pytestmark = pytest.mark.integration


def pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_aiokafka_group_consumes_and_commits(stack_endpoints: Endpoints) -> None:
    topic, group = f"probe-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack_endpoints.kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=stack_endpoints.kafka_bootstrap, acks="all")
    await producer.start()
    for i in range(10):
        await producer.send_and_wait(topic, f"m{i}".encode())
    await producer.stop()

    async def consume(n: int) -> tuple[list[bytes], int | None]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=stack_endpoints.kafka_bootstrap, group_id=group,
            enable_auto_commit=False, auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            got: list[bytes] = []
            while len(got) < n:
                batch = await consumer.getmany(timeout_ms=5000, max_records=n - len(got))
                assert batch, "no messages within 5 s"
                got += [m.value for msgs in batch.values() for m in msgs]
            await consumer.commit()
            return got, await consumer.committed(TopicPartition(topic, 0))
        finally:
            await consumer.stop()

    assert await consume(4) == ([f"m{i}".encode() for i in range(4)], 4)
    # A new consumer of the group resumes at the committed offset.
    assert await consume(6) == ([f"m{i}".encode() for i in range(4, 10)], 10)


def test_redis_restart_keeps_port_and_stop_leaves_no_process(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", aof=True)
    server.start()
    first_pid, port = server.pid, server.port
    client = redis.Redis.from_url(server.url)
    client.set("k", "v")
    server.stop()
    assert not pid_alive(first_pid)
    server.start()  # same port, same dir: the AOF brings the data back
    assert server.port == port
    assert redis.Redis.from_url(server.url).get("k") == b"v"
    server.kill()
    assert not server.alive()


def test_kafka_restart_keeps_port_and_data(tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path / "kafka")
    broker.start()
    assert broker.start_seconds is not None and broker.start_seconds > 0
    first_pid, port = broker.pid, broker.port
    broker.stop()
    assert not pid_alive(first_pid)
    broker.start()
    assert broker.port == port and broker.alive()
    broker.stop()
    assert not broker.alive()
