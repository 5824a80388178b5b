"""The errors of the state package, and which failures of a backend are transient (worth a retry)."""

from __future__ import annotations

import redis.exceptions


class LeaseLost(RuntimeError):
    """The lease lapsed and another worker took it while this one held it: the step is redone from the start."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.MasterDownError,
    redis.exceptions.ReadOnlyError,
    LeaseLost,
)
"""Failures that heal by themselves (a Redis restarting, failing over, loading its data; a lease taken
over): retried quietly. Anything else a backend raises is a bug or a misconfiguration."""
