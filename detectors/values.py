"""What a numeric feature's raw values are: numbers, missing, or of the wrong type.

One rule for the reference and the stream, so a window and its reference count the same things:

- a number (``int`` or ``float``) is a value; a boolean is a number too (``true`` is 1, ``false`` 0: flags
  are often logged as booleans);
- ``None`` and NaN are **missing**;
- anything else (a string, even ``"3.5"``; a list; a map) is of the **wrong type**: counted apart, never
  silently taken as missing, and never parsed (a producer sending strings has a bug worth seeing).

Training data read from CSV is text by nature; its reader parses numbers before this rule applies
(:mod:`driftline.streams.references.training_data`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

_PLAIN = frozenset({float, int, type(None)})


class NumericValues(NamedTuple):
    """A numeric feature's values and which of them are of the wrong type.

    >>> numeric_values([1.0, "x"]).mismatched
    1
    """

    column: np.ndarray
    """float64; NaN for missing and wrong-typed values."""
    wrong: np.ndarray | None
    """Which values are of the wrong type (a bool mask), or None when none is."""

    @property
    def mismatched(self) -> int:
        return int(self.wrong.sum()) if self.wrong is not None else 0


def numeric_values(values: Sequence[object]) -> NumericValues:
    """Values as float64, with the wrong-typed ones marked.

    >>> v = numeric_values([1, 2.5, None, True, "3.5", float("nan")])
    >>> v.column.tolist()[:4], v.wrong.tolist(), v.mismatched
    ([1.0, 2.5, nan, 1.0], [False, False, False, False, True, False], 1)
    >>> numeric_values([1.0, None]).wrong is None
    True
    """
    if set(map(type, values)) <= _PLAIN:  # the common case: one numpy conversion, None becomes NaN
        return NumericValues(np.array(values, dtype=np.float64), None)
    column = np.empty(len(values), dtype=np.float64)
    wrong = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        if value is None:
            column[i] = np.nan
        elif isinstance(value, int | float | np.number):  # bool is an int
            column[i] = float(value)
        else:
            column[i] = np.nan
            wrong[i] = True
    return NumericValues(column, wrong if wrong.any() else None)
