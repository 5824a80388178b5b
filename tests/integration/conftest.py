from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from driftline.config.settings import KafkaSettings, Settings, TopicSettings, load_settings
from driftline.streams.stack import Endpoints


@pytest.fixture
def settings(stack_endpoints: Endpoints) -> Settings:
    """Settings for the test stack, with topic names of this test's own."""
    return settings_for(stack_endpoints)


def settings_for(stack_endpoints: Endpoints, **overrides: object) -> Settings:
    """``idle_close_seconds`` and ``silence_seconds`` 0 unless a test says: what the wall clock decides depends
    on how slow the machine is, and the tests count windows and alerts (tests/integration/test_idle_close.py
    tests both)."""
    run = uuid.uuid4().hex[:8]
    topics = TopicSettings(**{name: f"t{run}.{name}" for name in TopicSettings.model_fields})
    return load_settings(
        app_id=f"driftline-test-{run}",
        kafka=KafkaSettings(bootstrap=stack_endpoints.kafka_bootstrap),
        redis=stack_endpoints.redis_settings(),
        topics=topics,
        **{"idle_close_seconds": 0.0, "silence_seconds": 0.0, **overrides},
    )


def stack_cli_env(cache: Path) -> dict[str, str]:
    """The environment for a ``driftline stack ...`` command of its own: no DRIFTLINE_* of the session, its
    state under ``cache`` (created), the Kafka jars already fetched reused by a symlink."""
    from driftline.streams.stack import KAFKA_VERSION, kafka_libs

    cache.mkdir()
    (cache / f"kafka-{KAFKA_VERSION}").symlink_to(kafka_libs().parent)
    env = {name: value for name, value in os.environ.items() if not name.startswith("DRIFTLINE_")}
    return {**env, "DRIFTLINE_CACHE_DIR": str(cache)}
