"""Real Kafka and Redis for the demo, the tests and the benchmarks, without Docker."""

from __future__ import annotations

from driftline.streams.stack.kafka import KAFKA_VERSION, KafkaBroker, KafkaError, kafka_libs
from driftline.streams.stack.local import Endpoints, LocalStack
from driftline.streams.stack.redis_server import RedisServer, RedisServerError
from driftline.streams.stack.select import service_endpoints

__all__ = [
    "KAFKA_VERSION",
    "Endpoints",
    "KafkaBroker",
    "KafkaError",
    "LocalStack",
    "RedisServer",
    "RedisServerError",
    "kafka_libs",
    "service_endpoints",
]
