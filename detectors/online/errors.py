"""The online detectors' one error type."""

from __future__ import annotations


class StateError(ValueError):
    """Bytes that are not (or no longer) a restorable detector state.

    The caller's remedy is the same in every case: log it and start that
    detector fresh.
    """
