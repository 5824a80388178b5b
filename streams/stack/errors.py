"""The local stack's errors, in one place so callers can catch the whole family."""

from __future__ import annotations


class StackError(RuntimeError):
    """A local service could not be fetched, started or reached; the message says why and what to do."""


class KafkaBrokerError(StackError):
    """The broker could not be fetched, formatted or started; the message carries the broker log's tail."""


class RedisServerError(StackError):
    """redis-server is missing or did not answer PING; the message carries its log's tail."""
