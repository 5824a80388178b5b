from __future__ import annotations

import uuid

import pytest

from driftline.config.settings import KafkaSettings, Settings, TopicSettings, load_settings
from driftline.streams.stack import Endpoints


@pytest.fixture
def settings(stack_endpoints: Endpoints) -> Settings:
    """Settings for the test stack, with topic names of this test's own."""
    return settings_for(stack_endpoints)


def settings_for(stack_endpoints: Endpoints) -> Settings:
    run = uuid.uuid4().hex[:8]
    topics = TopicSettings(**{name: f"t{run}.{name}" for name in TopicSettings.model_fields})
    return load_settings(
        app_id=f"driftline-test-{run}",
        kafka=KafkaSettings(bootstrap=stack_endpoints.kafka_bootstrap),
        redis=stack_endpoints.redis_settings(),
        topics=topics,
    )
