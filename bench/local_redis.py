"""A redis-server of its own for a bench that needs only Redis (or the one ``DRIFTLINE_REDIS_URL`` names)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from driftline.streams.stack.redis_server import RedisServer

T = TypeVar("T")


def on_redis(run: Callable[[str], Awaitable[T]]) -> T:
    """``run(url)`` on the Redis at ``DRIFTLINE_REDIS_URL``, else on a redis-server started for it and stopped
    after."""
    configured = os.environ.get("DRIFTLINE_REDIS_URL")
    if configured:
        return asyncio.run(run(configured))
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp))
        redis.start()
        try:
            return asyncio.run(run(redis.url))
        finally:
            redis.stop()
