"""Model performance from joined (prediction, label) pairs: mergeable per-window counts and their metrics.

One joined pair becomes a few counter increments (:func:`outcome`), so a performance window is a hash of
counters that any number of workers add to, in any order, and a metric is read from the sums
(:func:`metrics`). What is counted depends on the kind of model (:func:`task_of`):

- ``binary``: a score in [0, 1] and a 0/1 label. ``err`` (wrong at the decision threshold), ``tp`` /
  ``fp`` / ``fn``, and the score's histogram per class (``s1:<bin>``, ``s0:<bin>``, :data:`SCORE_BINS`
  equal bins) for ROC AUC. The AUC from those histograms counts a positive and a negative in the same bin
  as half right, so it is within ``tie_mass / 2`` of the exact AUC (:func:`auc_from_histograms` returns
  that bound; 20 bins: below 0.025 for any score distribution, usually far below).
- ``classes``: a class, or a ``{class: probability}`` map (its most likely class), against a class label.
  ``err``, and per class ``c:<class>:tp`` / ``:pp`` (predicted) / ``:lp`` (labelled) for macro F1.
- ``regression``: a number against a number. ``ae`` (sum of absolute errors), ``se`` (sum of squares),
  and the signed error's histogram on half-octave bins (``e:<k>``), so drift tests can run on it.

Every kind counts ``n``. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from driftline.config import top_class
from driftline.detectors.error_indicator import NotComparable, binary_label
from driftline.detectors.reference import category_name

Task = Literal["auto", "binary", "classes", "regression"]
SCORE_BINS = 20
ERROR_BIN_LIMIT = 60
"""Half-octave error bins from 2**-30 to 2**30 (each side); smaller errors count as ``e:0``."""


def task_of(prediction: object, label: object, task: Task = "auto") -> Task:
    """The kind of model a pair comes from (``task`` when it is not ``auto``).

    >>> task_of(0.8, 1), task_of({"a": 0.6, "b": 0.4}, "a"), task_of("a", "b"), task_of(3.5, 4.0)
    ('binary', 'classes', 'classes', 'regression')
    >>> task_of(0.3, 0, "regression")
    'regression'
    """
    if task != "auto":
        return task
    if isinstance(prediction, dict | str):
        return "classes"
    if isinstance(prediction, int | float) and not isinstance(prediction, bool):
        if 0.0 <= prediction <= 1.0 and binary_label(label) is not None:
            return "binary"
        return "regression"
    raise NotComparable(f"cannot compare a {type(prediction).__name__} prediction with a label")


def outcome(prediction: object, label: object, *, task: Task = "auto", threshold: float = 0.5) -> dict[str, float]:
    """The counter increments of one joined pair; :class:`NotComparable` when the pair cannot be judged.

    >>> outcome(0.8, 1)
    {'n': 1, 'err': 0, 'tp': 1, 's1:16': 1}
    >>> outcome({"cat": 0.7, "dog": 0.3}, "dog")
    {'n': 1, 'err': 1, 'c:cat:pp': 1, 'c:dog:lp': 1}
    >>> outcome(12.0, 10.0)
    {'n': 1, 'ae': 2.0, 'se': 4.0, 'e:63': 1}
    """
    kind = task_of(prediction, label, task)
    if kind == "binary":
        return _binary(prediction, label, threshold)
    if kind == "classes":
        return _classes(prediction, label)
    return _regression(prediction, label)


def _binary(prediction: object, label: object, threshold: float) -> dict[str, float]:
    if not isinstance(prediction, int | float) or isinstance(prediction, bool) or not math.isfinite(prediction):
        raise NotComparable(f"a binary model's prediction is a score, got {prediction!r}")
    truth = binary_label(label)
    if truth is None:
        raise NotComparable(f"a score ({prediction}) needs a 0/1 label, got {label!r}")
    said = prediction >= threshold
    score_bin = min(SCORE_BINS - 1, max(0, int(prediction * SCORE_BINS)))
    out: dict[str, float] = {"n": 1, "err": int(said != truth)}
    if said and truth:
        out["tp"] = 1
    elif said:
        out["fp"] = 1
    elif truth:
        out["fn"] = 1
    out[f"s{int(truth)}:{score_bin}"] = 1
    return out


def _classes(prediction: object, label: object) -> dict[str, float]:
    if isinstance(prediction, dict):
        if not prediction:
            raise NotComparable("an empty probability map")
        prediction = top_class(prediction)
    if not isinstance(prediction, str):
        raise NotComparable(f"a classifier's prediction is a class or a probability map, got {prediction!r}")
    truth = category_name(label)
    if prediction == truth:
        return {"n": 1, "err": 0, f"c:{_class(truth)}:tp": 1, f"c:{_class(truth)}:pp": 1,
                f"c:{_class(truth)}:lp": 1}
    return {"n": 1, "err": 1, f"c:{_class(prediction)}:pp": 1, f"c:{_class(truth)}:lp": 1}


def _class(name: str) -> str:
    return name.replace(":", "_")[:64]


def _regression(prediction: object, label: object) -> dict[str, float]:
    values = []
    for name, value in (("prediction", prediction), ("label", label)):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise NotComparable(f"a regression {name} is a number, got {value!r}") from None
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise NotComparable(f"a regression {name} is a finite number, got {value!r}")
        values.append(float(value))
    error = values[0] - values[1]
    return {"n": 1, "ae": abs(error), "se": error * error, f"e:{error_bin(error)}": 1}


def error_bin(error: float) -> int:
    """A signed error's half-octave bin: 0 for |error| < 2**-30, else ±(1 + the half-octaves above that).

    >>> error_bin(0.0), error_bin(2.0), error_bin(-2.0), error_bin(1e300)
    (0, 63, -63, 120)
    """
    size = abs(error)
    if size < 2.0 ** -30:
        return 0
    k = min(2 * ERROR_BIN_LIMIT, 1 + math.floor(2 * (math.log2(size) + 30)))
    return k if error > 0 else -k


@dataclass(frozen=True)
class Metrics:
    """A window's metrics (None where the window has none of the kind).

    >>> Metrics(n=10, error_rate=0.2).accuracy
    0.8
    """

    n: int
    error_rate: float | None = None
    precision: float | None = None
    recall: float | None = None
    auc: float | None = None
    auc_bound: float | None = None
    macro_f1: float | None = None
    mae: float | None = None
    rmse: float | None = None

    @property
    def accuracy(self) -> float | None:
        return None if self.error_rate is None else 1.0 - self.error_rate


def metrics(counts: dict[str, float]) -> Metrics:
    """The metrics of a window's summed counters.

    >>> m = metrics({"n": 4, "err": 1, "tp": 2, "fp": 1, "s1:18": 2, "s0:3": 1, "s0:15": 1})
    >>> m.error_rate, round(m.precision, 3), m.recall, m.auc, m.auc_bound
    (0.25, 0.667, 1.0, 1.0, 0.0)
    >>> metrics({"n": 2, "ae": 3.0, "se": 5.0}).mae
    1.5
    """
    n = int(counts.get("n", 0))
    if n <= 0:
        return Metrics(0)
    error_rate = counts["err"] / n if "err" in counts else None
    tp, fp, fn = (counts.get(k, 0.0) for k in ("tp", "fp", "fn"))
    scored = any(k.startswith(("s0:", "s1:")) for k in counts)
    auc, bound = auc_from_histograms(counts) if scored else (None, None)
    regression = "ae" in counts
    return Metrics(
        n=n,
        error_rate=error_rate,
        precision=tp / (tp + fp) if scored and tp + fp > 0 else None,
        recall=tp / (tp + fn) if scored and tp + fn > 0 else None,
        auc=auc,
        auc_bound=bound,
        macro_f1=_macro_f1(counts),
        mae=counts["ae"] / n if regression else None,
        rmse=math.sqrt(counts["se"] / n) if regression else None,
    )


def auc_from_histograms(counts: dict[str, float]) -> tuple[float | None, float | None]:
    """ROC AUC from the per-class score histograms, and the bound on its distance from the exact AUC (the
    mass of positive-negative pairs sharing a bin, halved). None when a class is missing.

    >>> auc_from_histograms({"s1:19": 3, "s0:0": 2})
    (1.0, 0.0)
    >>> auc_from_histograms({"s1:5": 1, "s0:5": 1})
    (0.5, 0.5)
    """
    pos = [counts.get(f"s1:{b}", 0.0) for b in range(SCORE_BINS)]
    neg = [counts.get(f"s0:{b}", 0.0) for b in range(SCORE_BINS)]
    n_pos, n_neg = sum(pos), sum(neg)
    if n_pos == 0 or n_neg == 0:
        return None, None
    below = 0.0  # negatives in lower bins
    wins = ties = 0.0
    for p, q in zip(pos, neg, strict=True):
        wins += p * below
        ties += p * q
        below += q
    pairs = n_pos * n_neg
    return (wins + 0.5 * ties) / pairs, 0.5 * ties / pairs


def _macro_f1(counts: dict[str, float]) -> float | None:
    classes = {k.split(":")[1] for k in counts if k.startswith("c:")}
    if not classes:
        return None
    scores = []
    for c in sorted(classes):
        tp, pp, lp = (counts.get(f"c:{c}:{k}", 0.0) for k in ("tp", "pp", "lp"))
        scores.append(2 * tp / (pp + lp) if pp + lp > 0 else 0.0)
    return sum(scores) / len(scores)
