"""A per-model lease in Redis: who may close a model's windows and decide its retraining right now.

When a model's events are spread over several partitions (a hot model, keyed by
``prediction_id``), several workers apply its sketches concurrently, and each of
them may find the same window closable. Closing a window reads the alert states
the previous close left, publishes the alerts, and stores the new states: done
twice at once, a streak would count one window twice. So the steps that read and
write a model's decisions (window close, the retrain step) run under this lease:

- ``SET dl:{m}:lock <token> NX PX <ttl>``: one holder at a time, waiting with
  backoff otherwise; a holder killed with SIGKILL frees it when the TTL lapses;
- the token *fences* the close: :meth:`SketchStore.close_window` commits only if
  the lease still holds that token, so a holder paused past its TTL (its lease
  now someone else's) cannot store a second close of a window. What it published
  before was computed from the same stored states and counts as the new holder's
  close, so it is a repeat of the same alert ids, never a different decision;
- released with compare-and-delete.

A model keyed by ``model_id`` (the default) lives on one partition, so one worker:
its lease is always free, and it is taken only when a window is about to close
(two round trips per closed window, none per event). See ADR 0011.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

from driftline.streams import keys

log = logging.getLogger(__name__)

# KEYS: the lock. ARGV: the token. Deletes the lock only if it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

DEFAULT_TTL_SECONDS = 15.0
"""Longer than any close takes (milliseconds, plus a broker ack), short enough that a killed worker's lease
lapses while Kafka is still moving its partitions (session timeout 10 s)."""

SLOW_WAIT_SECONDS = 1.0


class LeaseLost(RuntimeError):
    """The lease lapsed and another worker took it while this one held it: the step is redone from the start."""


class ModelLocks:
    """Leases on models, held by one worker process (named in every token, for the logs)."""

    def __init__(self, client: aioredis.Redis, *, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 owner: str | None = None) -> None:
        self._redis = client
        self._ttl_ms = int(ttl_seconds * 1000)
        self._owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._release = client.register_script(_RELEASE)

    @asynccontextmanager
    async def hold(self, model_id: str) -> AsyncIterator[str]:
        """Wait for the model's lease, hold it for the block, release it; yields the fencing token."""
        key = keys.close_lock(model_id)
        token = f"{self._owner}:{uuid.uuid4().hex[:12]}"
        await self._acquire(key, token, model_id)
        try:
            yield token
        finally:
            await self._release(keys=[key], args=[token])

    async def _acquire(self, key: str, token: str, model_id: str) -> None:
        """Closes take milliseconds, so a wait of a second means a holder that is stuck or was killed
        (its lease lapses within the TTL): said once, and again when the lease is taken."""
        delay, began, warned = 0.005, time.monotonic(), False
        while not await self._redis.set(key, token, nx=True, px=self._ttl_ms):
            if not warned and time.monotonic() - began > SLOW_WAIT_SECONDS:
                holder = await self._redis.get(key)
                log.warning("model %s: waiting for its lease, held by %s (a killed holder's lapses within %.0f s)",
                            model_id, holder.decode() if holder else "nobody now", self._ttl_ms / 1000)
                warned = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
        if warned:
            log.warning("model %s: lease taken after %.1f s", model_id, time.monotonic() - began)
