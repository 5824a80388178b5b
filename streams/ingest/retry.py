"""Retry instead of raise, for the steps of the consumer loop.

An exception escaping a batch would stop its consumer (or, in a faust agent,
ack the batch and lose it), so every step that touches Kafka or Redis waits and
tries again until it succeeds; only cancellation (a stopping worker) gets through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiokafka.errors import KafkaError

from driftline.streams.ingest.errors import Replan, StateBehind
from driftline.streams.state import TRANSIENT_ERRORS

Guard = Callable[[], Awaitable[None]]
"""Called before every attempt at a batch; raises :class:`StateBehind` to drop the batch."""

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)

TRANSIENT: tuple[type[BaseException], ...] = (OSError, TimeoutError, KafkaError, Replan, *TRANSIENT_ERRORS)
"""Failures that heal by themselves: a connection lost, a service restarting, a partition moving, a lease
taken over, a batch to re-plan. Anything else is unexpected — a bug, or input a check let through — and
is said so, loudly, at every attempt (it is retried all the same: nothing is dropped)."""


async def attempts(what: str, step: Callable[[], Awaitable[T]], guard: Guard | None,
                   delays: Sequence[float] = DEFAULT_DELAYS) -> T:
    """:func:`until_done` for one batch: ``guard()`` before every attempt (a Redis restored while the
    batch was retried is caught before anything is applied on it); :class:`StateBehind` is raised."""

    async def guarded() -> T:
        if guard is not None:
            await guard()
        return await step()

    return await until_done(what, guarded, delays, give_up_on=(StateBehind,))


async def until_done(
    what: str,
    step: Callable[[], Awaitable[T]],
    delays: Sequence[float] = DEFAULT_DELAYS,
    *,
    give_up_on: tuple[type[BaseException], ...] = (),
) -> T:
    """``await step()`` until it returns; after a failure, wait the next of ``delays`` (the last repeats).
    Exceptions in ``give_up_on`` are not failures to retry but answers: they are raised to the caller.

    >>> calls = []
    >>> async def flaky() -> str:
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise ConnectionError("redis down")
    ...     return "done"
    >>> asyncio.run(until_done("flaky step", flaky, delays=(0.0,))), len(calls)
    ('done', 3)
    """
    attempt = 0
    while True:
        try:
            return await step()
        except Exception as exc:  # retried, never raised (cancellation is no Exception: it passes)
            if give_up_on and isinstance(exc, give_up_on):
                raise
            delay = delays[min(attempt, len(delays) - 1)]
            attempt += 1
            if isinstance(exc, TRANSIENT):
                log.warning("%s failed (attempt %d, retrying in %.1fs): %s", what, attempt, delay, exc)
            else:
                log.error("%s failed with an unexpected %s (attempt %d, retrying in %.1fs; a bug?): %s", what,
                          type(exc).__name__, attempt, delay, exc)
            await asyncio.sleep(delay)
