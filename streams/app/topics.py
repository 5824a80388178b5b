"""Create driftline's topics if they are missing (idempotent)."""

from __future__ import annotations

import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from driftline.config import Settings
from driftline.streams.app.kafka import kafka_options

log = logging.getLogger(__name__)


async def ensure_topics(settings: Settings, *, partitions: int = 4, replication_factor: int = 1) -> None:
    t = settings.topics
    wanted = [
        NewTopic(name, num_partitions=partitions, replication_factor=replication_factor)
        for name in (t.predictions, t.features, t.labels, t.alerts, t.retrain, t.deadletter)
    ]
    # References are the durable source of truth for baselines: keep the latest per key forever.
    wanted.append(
        NewTopic(t.references, num_partitions=1, replication_factor=replication_factor,
                 topic_configs={"cleanup.policy": "compact"})
    )
    admin = AIOKafkaAdminClient(**kafka_options(settings.kafka))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted if topic.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another worker won the race
                await admin.create_topics(missing)
            log.info("created topics %s", [m.name for m in missing])
    finally:
        await admin.close()
