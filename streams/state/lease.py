"""A per-model lease in Redis: who may close a model's windows and decide its retraining right now.

When a model's events are spread over several partitions (a hot model, keyed by
``prediction_id``), several workers apply its sketches concurrently, and each of
them may find the same window closable. Closing a window reads the alert states
the previous close left, publishes the alerts, and stores the new states: done
twice at once, a streak would count one window twice. So the steps that read and
write a model's decisions (window close, the retrain step) run under this lease:

- ``SET dl:{m}:lock <token> NX PX <ttl>``: one holder at a time, waiting with
  backoff otherwise; a holder killed with SIGKILL frees it when the TTL lapses;
- the token *fences* the close: :meth:`RedisWindowStore.close_window` commits only if
  the lease still holds that token, so a holder paused past its TTL (its lease
  now someone else's) cannot store a second close of a window. What it published
  before was computed from the same stored states and counts as the new holder's
  close, so it is a repeat of the same alert ids, never a different decision;
- released with compare-and-delete.

A model keyed by ``model_id`` (the default) lives on one partition, so one worker:
its lease is always free, and it is taken only when a window is about to close
(two round trips per closed window, none per event). See ADR 0011.

:class:`TriggerLease` is the same idea for ``driftline triggers exec``: one runner of a consumer group runs a
trigger's command at a time, renewing its lease while the command runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from driftline.streams.state import keys
from driftline.streams.state.client import RedisClient, text
from driftline.streams.state.lua import script

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 15.0
"""Longer than any close takes (milliseconds, plus a broker ack), short enough that a killed worker's lease
lapses while Kafka is still moving its partitions (session timeout 10 s)."""

SLOW_WAIT_SECONDS = 1.0


class RedisModelLeases:
    """Leases on models, held by one worker process (named in every token, for the logs)."""

    def __init__(self, client: RedisClient, *, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 owner: str | None = None) -> None:
        self._redis = client
        self._ttl_ms = int(ttl_seconds * 1000)
        self._owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._release = client.register_script(script("release_lease"))

    @asynccontextmanager
    async def hold(self, model_id: str) -> AsyncIterator[str]:
        """Wait for the model's lease, hold it for the block, release it; yields the fencing token."""
        key = keys.model_lease(model_id)
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
                            model_id, text(holder) if holder else "nobody now", self._ttl_ms / 1000)
                warned = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
        if warned:
            log.warning("model %s: lease taken after %.1f s", model_id, time.monotonic() - began)


TRIGGER_LEASE_SECONDS = 30.0
"""How long a runner's claim on a trigger outlives it: renewed every third of this while the command runs."""


class TriggerLease:
    """One runner's claim on running one trigger, in Redis, renewed while its command runs.

    Within a consumer group a rebalance can hand a partition to another runner while a command for one
    of its triggers is still running; that runner finds the lease and waits instead of starting the
    command again. A runner that dies stops renewing, and its lease lapses after :data:`TRIGGER_LEASE_SECONDS`.
    """

    def __init__(self, client: RedisClient, model_id: str, group: str, trigger_id: str, *,
                 seconds: float = TRIGGER_LEASE_SECONDS) -> None:
        self._redis = client
        self._key = keys.running_trigger(model_id, group, trigger_id)
        self._done_key = keys.executed_triggers_for(model_id, group)
        self._trigger_id = trigger_id
        self._token = uuid.uuid4().hex
        self._ms = int(seconds * 1000)
        self.renew_every = seconds / 3
        self._renewing: asyncio.Task[None] | None = None
        self._release = client.register_script(script("release_lease"))
        self._renew_script = client.register_script(script("renew_lease"))
        self._finish = client.register_script(script("finish_trigger"))

    async def done(self) -> bool:
        """The group has run this trigger already (it is in the group's done set)."""
        return bool(await self._redis.sismember(self._done_key, self._trigger_id))

    async def acquire(self) -> bool:
        """True when this runner now holds the lease (and keeps it renewed until released or finished)."""
        if not await self._redis.set(self._key, self._token, nx=True, px=self._ms):
            return False
        self._renewing = asyncio.create_task(self._renew())
        return True

    async def release(self) -> None:
        """Give the trigger up (its command failed or the runner stops): another runner may take it."""
        await self._stop_renewing()
        await self._release(keys=[self._key], args=[self._token])

    async def finish(self, done_ttl_seconds: int) -> None:
        """The command succeeded: record the trigger as done for the group and drop the lease, atomically."""
        await self._stop_renewing()
        await self._finish(keys=[self._key, self._done_key], args=[self._token, self._trigger_id, done_ttl_seconds])

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every)
            with contextlib.suppress(Exception):  # a missed renewal is retried; the lease has slack for two
                await self._renew_script(keys=[self._key], args=[self._token, self._ms])

    async def _stop_renewing(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing
            self._renewing = None
