"""Was the model right? A joined (prediction, label) pair as a 0/1 error indicator.

Classification, in the shapes a PredictionEvent's ``prediction`` takes:
- a class (string) against the label (string, or a number naming the class);
- a probability map against the label: its most likely class;
- a score in [0, 1] against a 0/1 label (numbers, ``"0"``/``"1"``, booleans): right when
  ``score >= threshold`` (0.5) matches the label.
Anything else (a regression value against a real label, a score against a class
name) cannot be judged right or wrong here: :class:`NotComparable` says why.
"""

from __future__ import annotations

import math

from driftline.config import top_class
from driftline.detectors.reference import category_name


class NotComparable(ValueError):
    """This prediction and label cannot be compared as right or wrong."""


def error_of(prediction: object, label: object, *, threshold: float = 0.5) -> float:
    """1.0 when the model was wrong, 0.0 when right.

    >>> error_of("fraud", "fraud"), error_of({"ok": 0.3, "fraud": 0.7}, "ok"), error_of(0.8, 1), error_of(0.2, "1")
    (0.0, 1.0, 0.0, 1.0)
    >>> error_of("1", 1.0)
    0.0
    >>> error_of(0.8, "fraud")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    NotComparable: a score (0.8) needs a 0/1 label, got 'fraud'
    """
    if isinstance(prediction, dict):
        if not prediction:
            raise NotComparable("an empty probability map")
        prediction = top_class(prediction)
    if isinstance(prediction, str):
        return float(prediction != category_name(label))
    if isinstance(prediction, int | float) and not isinstance(prediction, bool):
        if not math.isfinite(prediction):
            raise NotComparable(f"the prediction is {prediction}")
        binary = binary_label(label)
        if binary is None:
            raise NotComparable(f"a score ({prediction}) needs a 0/1 label, got {label!r}")
        return float((prediction >= threshold) != binary)
    raise NotComparable(f"cannot compare a {type(prediction).__name__} prediction with a label")


def binary_label(label: object) -> bool | None:
    """A 0/1 label as a bool (numbers, ``"0"``/``"1"``/``"true"``/``"false"``, booleans); None otherwise."""
    if isinstance(label, bool):
        return label
    if isinstance(label, int | float) and label in (0, 1):
        return bool(label)
    if isinstance(label, str) and label.strip().lower() in {"0", "1", "true", "false"}:
        return label.strip().lower() in {"1", "true"}
    return None
