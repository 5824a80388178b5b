"""Real Kafka and Redis for the demo, the tests and the benchmarks, without Docker."""

from __future__ import annotations

from driftline.streams.stack.errors import KafkaBrokerError, RedisServerError, StackError
from driftline.streams.stack.fetch import KAFKA_VERSION, kafka_libs
from driftline.streams.stack.kafka import KafkaBroker
from driftline.streams.stack.local import Endpoints, LocalStack, StartTimes
from driftline.streams.stack.redis_cluster import RedisClusterNodes
from driftline.streams.stack.redis_server import RedisServer
from driftline.streams.stack.select import docker_engine_answers, service_endpoints, test_endpoints

__all__ = [  # noqa: RUF022 — grouped by role, as STYLE.md asks
    # services
    "KAFKA_VERSION",
    "KafkaBroker",
    "LocalStack",
    "RedisClusterNodes",
    "RedisServer",
    "kafka_libs",
    # values
    "Endpoints",
    "StartTimes",
    # choosing services
    "docker_engine_answers",
    "service_endpoints",
    "test_endpoints",
    # errors
    "KafkaBrokerError",
    "RedisServerError",
    "StackError",
]
