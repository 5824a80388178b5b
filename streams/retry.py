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

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


async def until_done(what: str, step: Callable[[], Awaitable[T]], delays: Sequence[float] = DEFAULT_DELAYS) -> T:
    """``await step()`` until it returns; after a failure, wait the next of ``delays`` (the last repeats).

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
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 — retried, never raised
            delay = delays[min(attempt, len(delays) - 1)]
            attempt += 1
            log.warning("%s failed (attempt %d, retrying in %.1fs): %s", what, attempt, delay, exc)
            await asyncio.sleep(delay)
