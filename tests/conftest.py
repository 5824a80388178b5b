"""Services for the tests that need them: started once per session, stopped at its end.

External services when DRIFTLINE_KAFKA_BOOTSTRAP and DRIFTLINE_REDIS_URL are set,
containers when a Docker engine answers, the local stack otherwise
(see driftline.streams.stack.select).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from driftline.streams.stack import Endpoints, test_endpoints


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs real Kafka and Redis (started once per session)")
    config.addinivalue_line("markers", "faults: kills and restarts its own Kafka, Redis and workers (tests/faults)")


@pytest.fixture(scope="session")
def stack_endpoints() -> Iterator[Endpoints]:
    with test_endpoints() as endpoints:
        yield endpoints


@pytest.fixture(scope="session")
def redis_url(stack_endpoints: Endpoints) -> str:
    return str(stack_endpoints.redis_url)
