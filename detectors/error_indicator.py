"""What a joined (prediction, label) pair is made of: a 0/1 label read as a bool, and the error raised when a
prediction and its label cannot be compared (:mod:`driftline.detectors.performance` judges the pairs)."""

from __future__ import annotations


class NotComparable(ValueError):
    """This prediction and label cannot be compared as right or wrong."""


def binary_label(label: object) -> bool | None:
    """A 0/1 label as a bool (numbers, ``"0"``/``"1"``/``"true"``/``"false"``, booleans); None otherwise."""
    if isinstance(label, bool):
        return label
    if isinstance(label, int | float) and label in (0, 1):
        return bool(label)
    if isinstance(label, str) and label.strip().lower() in {"0", "1", "true", "false"}:
        return label.strip().lower() in {"1", "true"}
    return None
