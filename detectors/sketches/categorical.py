"""Category counts on the reference's top-k categories, with one bucket for everything else."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from driftline.detectors.sketches import _codec

_MAGIC = b"DLCC"
OTHER = "__other__"
_NONE = np.array(None, dtype=object)
"""None as a 0-d object array: what ``np.equal`` compares an object array with, element by element."""


@dataclass(frozen=True, eq=False)
class CategoricalCounts:
    """Counts of ``categories`` (fixed by the reference) and of ``__other__``: the reference's
    long tail beyond the cap and any value the reference never had. Nulls are counted apart.

    Examples
    --------
    >>> ref = CategoricalCounts.from_reference(["a"] * 5 + ["b"] * 3 + ["c"], max_categories=2)
    >>> ref.labels, ref.counts.tolist()
    (('a', 'b', '__other__'), [5, 3, 1])
    >>> cur = ref.empty().update(np.array(["b", "z", "z", None], dtype=object))
    >>> cur.counts.tolist(), cur.nulls
    ([0, 1, 2], 1)
    >>> CategoricalCounts.from_bytes(cur.to_bytes()) == cur
    True
    """

    categories: tuple[str, ...]
    counts: np.ndarray
    nulls: int = 0

    def __post_init__(self) -> None:
        counts = np.asarray(self.counts, dtype=np.int64)
        if counts.shape != (len(self.categories) + 1,):
            raise ValueError(f"{len(self.categories)} categories need {len(self.categories) + 1} counts")
        if OTHER in self.categories or len(set(self.categories)) != len(self.categories):
            raise ValueError("categories must be distinct and must not include the other bucket")
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "counts", counts)

    @classmethod
    def from_reference(cls, values: ArrayLike | Sequence[object], *, max_categories: int = 50) -> CategoricalCounts:
        """The ``max_categories`` most frequent values become the categories (ties by name)."""
        if max_categories < 1:
            raise ValueError("max_categories must be at least 1")
        names, counts = _unique(values)
        order = sorted(range(len(names)), key=lambda i: (-counts[i], names[i]))[:max_categories]
        empty = cls(categories=tuple(sorted(names[i] for i in order)),
                    counts=np.zeros(len(order) + 1, dtype=np.int64))
        return empty.update(values)

    @property
    def labels(self) -> tuple[str, ...]:
        return (*self.categories, OTHER)

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def empty(self) -> CategoricalCounts:
        return CategoricalCounts(categories=self.categories, counts=np.zeros_like(self.counts))

    def update(self, values: ArrayLike | Sequence[object]) -> CategoricalCounts:
        """A new sketch with the batch added; work is per distinct value, not per event."""
        arr = np.asarray(values, dtype=object).ravel()
        # None and NaN are nulls; the comparisons run in numpy's loop, not a Python one.
        present = ~(np.equal(arr, _NONE) | np.not_equal(arr, arr)).astype(bool)
        names, counts = _unique(arr[present])
        index = {name: i for i, name in enumerate(self.categories)}
        added = np.zeros_like(self.counts)
        for name, n in zip(names, counts, strict=True):
            added[index.get(name, len(self.categories))] += n
        return CategoricalCounts(self.categories, self.counts + added, self.nulls + int((~present).sum()))

    def merge(self, other: CategoricalCounts) -> CategoricalCounts:
        if other.categories != self.categories:
            raise ValueError("category sketches with different categories cannot be merged")
        return CategoricalCounts(self.categories, self.counts + other.counts, self.nulls + other.nulls)

    def to_bytes(self) -> bytes:
        return _codec.encode(_MAGIC, {"categories": list(self.categories), "nulls": self.nulls},
                             {"counts": self.counts})

    @classmethod
    def from_bytes(cls, data: bytes) -> CategoricalCounts:
        head, arrays = _codec.decode(_MAGIC, data)
        return cls(categories=tuple(head["categories"]), counts=arrays["counts"],
                   nulls=int(head["nulls"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CategoricalCounts):
            return NotImplemented
        same_counts = bool(np.array_equal(self.counts, other.counts))
        return self.categories == other.categories and self.nulls == other.nulls and same_counts

    __hash__ = None  # type: ignore[assignment]


def _unique(values: ArrayLike | Sequence[object]) -> tuple[list[str], list[int]]:
    arr = np.asarray(values, dtype=object).ravel()
    if arr.size == 0:
        return [], []
    names, counts = np.unique(arr.astype(str), return_counts=True)
    return [str(n) for n in names], [int(c) for c in counts]
