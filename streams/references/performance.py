"""The reference performance of a model: its labelled reference data's outcomes summed into the counters its
performance windows hold (:mod:`driftline.detectors.performance`), with a line saying what they are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from driftline.detectors import NotComparable, Task, metrics, outcome
from driftline.streams.references.errors import ReferenceDataError

MIN_LABELLED = 50


@dataclass(frozen=True)
class ReferencePerformance:
    counts: dict[str, float]
    skipped: int
    """Rows whose prediction and label cannot be compared (left out)."""

    @property
    def summary(self) -> str:
        """What the reference says, in words.

        >>> ReferencePerformance({"n": 200, "err": 16}, 0).summary
        'error rate 0.080 (accuracy 0.920) from 200 labelled rows'
        """
        m = metrics(self.counts)
        what = (f"error rate {m.error_rate:.3f} (accuracy {m.accuracy:.3f})" if m.error_rate is not None
                else f"MAE {m.mae:.4g}, RMSE {m.rmse:.4g}")
        extra = f"; {self.skipped} rows not comparable, left out" if self.skipped else ""
        return f"{what} from {m.n} labelled rows{extra}"


def performance_counters(pairs: Sequence[tuple[Any, Any]], *, task: Task = "auto", threshold: float = 0.5,
                         source: str = "the data") -> ReferencePerformance:
    """The summed counters of (prediction, label) pairs; :class:`ReferenceDataError` for fewer than
    :data:`MIN_LABELLED` comparable pairs, or pairs of more than one kind of model.

    >>> performance_counters([(0.9, 1), (0.2, 0), (0.7, 0)] * 20).counts["err"]
    20.0
    """
    total: dict[str, float] = {}
    skipped = 0
    for prediction, label in pairs:
        try:
            counts = outcome(prediction, label, task=task, threshold=threshold)
        except NotComparable:
            skipped += 1
            continue
        for name, value in counts.items():
            total[name] = total.get(name, 0.0) + float(value)
    n = int(total.get("n", 0))
    if n < MIN_LABELLED:
        raise ReferenceDataError(f"{source}: {n} labelled rows whose prediction and label compare; a performance "
                                 f"reference needs {MIN_LABELLED} at least")
    if "err" in total and "ae" in total:
        raise ReferenceDataError(f"{source}: the labelled rows mix classification and regression; say which with "
                                 "--task")
    return ReferencePerformance(total, skipped)
