"""Where each partition's processing really is, kept in Redis beside the state it describes.

Kafka's committed offset says what the consumer group acknowledged; this says up
to where Redis holds every effect of the records (the offset after the last
fully processed batch), and it travels with Redis: restored from an older
snapshot, it is older too. On partition assignment the consumer starts from this
offset, whichever way it differs from the committed one:

- behind the committed offset: Redis lost work (restored from an older snapshot),
  so the records are read again and re-applied (the per-model watermarks, restored
  with it, let exactly the lost ones through);
- ahead of it: the worker died between Redis and the commit; those records are
  done and are skipped instead of re-read;
- missing while an offset is committed: Redis lost this partition's state
  entirely; the partition is read from the beginning.
"""

from __future__ import annotations

import logging

from driftline.streams.state import keys
from driftline.streams.state.client import RedisClient

log = logging.getLogger(__name__)


class RedisProgress:
    """Per consumer group: ``topic:partition`` -> the next offset to process.

    >>> RedisProgress.field("driftline.predictions", 3)
    'driftline.predictions:3'
    """

    def __init__(self, client: RedisClient, group: str) -> None:
        self._redis = client
        self._key = keys.partition_progress(group)

    @staticmethod
    def field(topic: str, partition: int) -> str:
        return f"{topic}:{partition}"

    async def mark(self, topic: str, next_offsets: dict[int, int]) -> None:
        await self._redis.hset(self._key, mapping={self.field(topic, p): o for p, o in next_offsets.items()})

    async def read(self, topic: str, partitions: list[int]) -> dict[int, int]:
        if not partitions:
            return {}
        values = await self._redis.hmget(self._key, [self.field(topic, p) for p in partitions])
        return {p: int(v) for p, v in zip(partitions, values, strict=True) if v is not None}


def start_offset(committed: int | None, processed: int | None) -> int | None:
    """Where to start a partition: None to keep the consumer's position, -1 for the beginning.

    >>> start_offset(None, None), start_offset(100, 100), start_offset(100, 40), start_offset(100, 120)
    (None, None, 40, 120)
    >>> start_offset(100, None)
    -1
    """
    if processed is None:
        return -1 if committed is not None else None
    return None if processed == committed else processed
