"""Which Kafka and Redis to use: configured ones, containers, or the local stack.

1. ``DRIFTLINE_KAFKA_BOOTSTRAP`` and ``DRIFTLINE_REDIS_URL`` set: those services.
2. A Docker engine answers: Kafka and Redis containers (testcontainers).
3. Otherwise: the local stack (real Kafka from Maven Central jars, Debian's redis-server).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator

from driftline.config.settings import external_services
from driftline.streams.stack.local import Endpoints, LocalStack

log = logging.getLogger(__name__)

Announce = Callable[[str], object]


@contextlib.contextmanager
def service_endpoints(announce: Announce = log.info) -> Iterator[Endpoints]:
    configured = external_services()
    if configured is not None:
        announce(f"using the configured services: Kafka {configured[0]}, Redis")
        yield Endpoints(kafka_bootstrap=configured[0], redis_url=configured[1])
        return
    if docker_engine_answers():
        announce("a Docker engine answers: starting Kafka and Redis containers")
        with _containers() as endpoints:
            yield endpoints
        return
    announce("starting a local Kafka (KRaft) and redis-server on loopback ...")
    began = time.monotonic()
    with LocalStack() as stack:
        announce(
            f"local stack up in {time.monotonic() - began:.1f}s: Kafka {stack.endpoints.kafka_bootstrap}, "
            f"Redis {stack.endpoints.redis_url}"
        )
        yield stack.endpoints


def docker_engine_answers(timeout: float = 2.0) -> bool:
    try:
        import docker  # the docker SDK comes with testcontainers
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=int(max(timeout, 1)))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 — no socket, no permission, no engine: all mean "no"
        return False


@contextlib.contextmanager
def _containers() -> Iterator[Endpoints]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.redis import RedisContainer

    with KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as kafka, RedisContainer("redis:7.0") as redis:
        host, port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
        yield Endpoints(kafka_bootstrap=kafka.get_bootstrap_server(), redis_url=f"redis://{host}:{port}/0")
