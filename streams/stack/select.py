"""Which Kafka and Redis to use: configured ones, containers, or the local stack.

1. ``DRIFTLINE_KAFKA_BOOTSTRAP`` and ``DRIFTLINE_REDIS_URL`` set: those services
   (a CI with its own services, or a user's cluster).
2. A Docker engine answers: Kafka and Redis containers (testcontainers).
3. Otherwise: the local stack (real Kafka from Maven Central jars, the machine's redis-server).

``redis_cluster=True`` (the tests' ``DRIFTLINE_TEST_REDIS=cluster``) asks for a Redis
Cluster: the local stack's 3 masters, never a container. Configured services are used as
they are, a cluster when ``DRIFTLINE_REDIS_CLUSTER`` says so.

One place decides, so the tests, the demo and the benchmarks agree.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator

from driftline.config import RedisSettings, external_services
from driftline.streams.stack.local import Endpoints, LocalStack

log = logging.getLogger(__name__)

Announce = Callable[[str], object]

# testcontainers' own default, the image its Kafka module is tested with; the
# container path is not exercised on the no-Docker machines this repo is built on.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
REDIS_IMAGE = "redis:7.0"


@contextlib.contextmanager
def service_endpoints(announce: Announce = log.info, *, redis_cluster: bool = False) -> Iterator[Endpoints]:
    """Endpoints of running Kafka and Redis, started (and stopped on exit) only if not configured."""
    configured = external_services()
    if configured is not None:
        cluster = RedisSettings().cluster  # DRIFTLINE_REDIS_CLUSTER beside DRIFTLINE_REDIS_URL
        announce(f"using the configured services: Kafka {configured[0]}, Redis{' Cluster' if cluster else ''}")
        yield Endpoints(kafka_bootstrap=configured[0], redis_url=configured[1], redis_cluster=cluster)
        return
    if not redis_cluster and docker_engine_answers():
        announce("a Docker engine answers: starting Kafka and Redis containers")
        with _containers() as endpoints:
            yield endpoints
        return
    redis_name = "a 3-master Redis Cluster" if redis_cluster else "redis-server"
    announce(f"starting a local Kafka (KRaft) and {redis_name} on loopback ...")
    began = time.monotonic()
    with LocalStack(redis_cluster=redis_cluster) as stack:
        announce(
            f"local stack up in {time.monotonic() - began:.1f}s: Kafka {stack.endpoints.kafka_bootstrap}, "
            f"Redis{' Cluster' if redis_cluster else ''} {stack.endpoints.redis_url}"
        )
        yield stack.endpoints


def test_endpoints(
    announce: Announce = log.info, *, redis_cluster: bool = False
) -> contextlib.AbstractContextManager[Endpoints]:
    """The services the test session uses (see the module docstring for the order of choice)."""
    return service_endpoints(announce, redis_cluster=redis_cluster)


test_endpoints.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test, wherever it is imported


def docker_engine_answers(timeout: float = 2.0) -> bool:
    """True when the docker SDK can ping an engine within ``timeout``; never raises."""
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
    try:  # testcontainers >= 4.10 moved the modules; the old paths still work but warn
        from testcontainers.community.kafka import KafkaContainer
        from testcontainers.community.redis import RedisContainer
    except ImportError:
        from testcontainers.kafka import KafkaContainer
        from testcontainers.redis import RedisContainer

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka, RedisContainer(REDIS_IMAGE) as redis:
        host, port = redis.get_container_host_ip(), redis.get_exposed_port(6379)
        yield Endpoints(kafka_bootstrap=kafka.get_bootstrap_server(), redis_url=f"redis://{host}:{port}/0")
