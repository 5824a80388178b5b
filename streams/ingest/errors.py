"""The errors of the consumer loop's protocol with its processors."""

from __future__ import annotations


class InvalidEvent(ValueError):
    """A message that cannot become an event; ``reason`` says why, in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StateBehind(Exception):
    """Redis holds less than the consumer has processed (restored from an older snapshot): the batch in
    hand must not be applied; the consumer re-reads each partition from ``restart_at`` (-1: the beginning)."""

    def __init__(self, restart_at: dict[int, int]) -> None:
        super().__init__(f"Redis is behind on partition(s) {sorted(restart_at)}")
        self.restart_at = restart_at


class Replan(RuntimeError):
    """What a batch was planned on moved under it (a watermark another writer advanced, a reference set by
    another worker): the batch is planned again from fresh reads. Transient by nature."""
