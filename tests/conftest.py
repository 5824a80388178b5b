"""Services for the tests that need them: started once per session, stopped at its end.

External services when DRIFTLINE_KAFKA_BOOTSTRAP and DRIFTLINE_REDIS_URL are set,
containers when a Docker engine answers, the local stack otherwise
(see driftline.streams.stack.select). ``DRIFTLINE_TEST_REDIS=cluster``: the session's
Redis is a local 3-master Redis Cluster (``make test`` runs the tests marked
``redis_cluster`` so, a second time); tests reach Redis through ``settings.redis`` or the
``redis_settings`` fixture (``redis_client(...)``, ``RedisWindowStore.from_settings(...)``), which build
the right client.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from driftline.config.settings import RedisSettings, redis_cluster_for_tests
from driftline.streams.stack import Endpoints, RedisClusterNodes, test_endpoints


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs real Kafka and Redis (started once per session)")
    config.addinivalue_line("markers", "faults: kills and restarts its own Kafka, Redis and workers (tests/faults)")
    config.addinivalue_line("markers", "redis_cluster: also run on a Redis Cluster (DRIFTLINE_TEST_REDIS=cluster; "
                                       "make test's second run)")


@pytest.fixture(scope="session")
def stack_endpoints() -> Iterator[Endpoints]:
    with test_endpoints(redis_cluster=redis_cluster_for_tests()) as endpoints:
        yield endpoints


@pytest.fixture(scope="session")
def redis_url(stack_endpoints: Endpoints) -> str:
    return str(stack_endpoints.redis_url)


@pytest.fixture(scope="session")
def redis_settings(stack_endpoints: Endpoints) -> RedisSettings:
    """The session's Redis: ``redis_client(redis_settings)`` is a cluster client when it is a Redis Cluster."""
    return stack_endpoints.redis_settings()


@pytest.fixture(scope="session")
def cluster_endpoints(stack_endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """The session's Kafka and a Redis Cluster: the session's own Redis when it is one, else 3 local masters
    started for the session (in about 2 s)."""
    if stack_endpoints.redis_cluster:
        yield stack_endpoints
        return
    with RedisClusterNodes(tmp_path_factory.mktemp("redis-cluster")) as nodes:
        yield Endpoints(stack_endpoints.kafka_bootstrap, nodes.url, redis_cluster=True)
