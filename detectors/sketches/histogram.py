"""A numeric histogram on bin edges fixed by the reference, with moments and a null count."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from driftline.detectors.sketches import _codec

_MAGIC = b"DLNH"


DISCRETE_MAX_VALUES = 20
"""A numeric column with at most this many distinct values (flags, counts, small codes) gets one bin per value."""


def quantile_edges(values: ArrayLike, n_bins: int = 10) -> np.ndarray:
    """Inner edges that fit the reference: one bin per value for a column of at most
    :data:`DISCRETE_MAX_VALUES` distinct values (edges halfway between them), else the reference's quantiles,
    deduplicated, with each point mass (a value holding a bin's share or more, such as 60 % zeros) in a bin
    of its own.

    The outer bins are open-ended, so values beyond the reference's range still land
    in a bin: exactly the values a drift monitor must not lose.

    >>> quantile_edges(np.arange(100.0), 4)
    array([24.75, 49.5 , 74.25])
    >>> quantile_edges([0, 0, 0, 1] * 25, 10)  # a flag: 0 and 1 apart
    array([0.5])
    >>> zero_inflated = np.concatenate([np.zeros(60), np.arange(1.0, 41.0)])
    >>> edges = quantile_edges(zero_inflated, 4)
    >>> [int(c) for c in np.bincount(np.searchsorted(edges, zero_inflated, side="right"))]
    [0, 60, 13, 13, 14]
    """
    if n_bins < 2:
        raise ValueError("n_bins must be at least 2")
    arr = _finite(values)
    if arr.size == 0:
        raise ValueError("no finite reference values to take edges from")
    distinct, counts = np.unique(arr, return_counts=True)
    if distinct.size <= DISCRETE_MAX_VALUES:
        midpoints: np.ndarray = (distinct[:-1] + distinct[1:]) / 2.0
        return midpoints
    masses = distinct[counts >= arr.size / n_bins]
    rest = arr[~np.isin(arr, masses)] if masses.size else arr
    edges: set[float] = set()
    if rest.size:  # the other values share the other bins, at their own quantiles
        k = max(2, n_bins - masses.size)
        edges |= set(np.quantile(rest, np.linspace(0.0, 1.0, k + 1)[1:-1]).tolist())
    for mass in masses:  # a point mass: [v, the next float after v) holds v alone
        edges |= {float(mass), float(np.nextafter(mass, np.inf))}
    return np.array(sorted(edges), dtype=np.float64)


def _finite(values: ArrayLike) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    return arr[np.isfinite(arr)]


@dataclass(frozen=True, eq=False)
class NumericHistogram:
    """Counts on fixed edges (``len(counts) == len(edges) + 1``), moments, and NaN/null count.

    Mergeable (same edges), serialisable, updated from a whole numpy batch at once.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = NumericHistogram.from_reference(rng.normal(size=1000), n_bins=4)
    >>> ref.counts.tolist()
    [250, 250, 250, 250]
    >>> cur = ref.empty().update(np.array([-5.0, 0.1, np.nan, 9.0]))
    >>> cur.counts.tolist(), cur.nulls, cur.count, cur.maximum
    ([1, 0, 1, 1], 1, 3, 9.0)
    >>> NumericHistogram.from_bytes(cur.to_bytes()) == cur
    True
    """

    edges: np.ndarray
    counts: np.ndarray
    total: float = 0.0
    total_sq: float = 0.0
    minimum: float = float("inf")
    maximum: float = float("-inf")
    nulls: int = 0

    def __post_init__(self) -> None:
        edges = np.asarray(self.edges, dtype=np.float64)
        counts = np.asarray(self.counts, dtype=np.int64)
        if edges.ndim != 1 or counts.shape != (edges.size + 1,):
            raise ValueError(f"{edges.size} edges need {edges.size + 1} counts, got shape {counts.shape}")
        if np.any(np.diff(edges) <= 0) or not np.all(np.isfinite(edges)):
            raise ValueError("edges must be finite and strictly increasing")
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "counts", counts)

    @classmethod
    def from_reference(cls, values: ArrayLike, n_bins: int = 10) -> NumericHistogram:
        """Quantile edges of ``values``, and ``values`` counted on them."""
        edges = quantile_edges(values, n_bins)
        return cls(edges=edges, counts=np.zeros(edges.size + 1, dtype=np.int64)).update(values)

    @classmethod
    def from_counts(cls, edges: ArrayLike, counts: ArrayLike, nulls: int = 0) -> NumericHistogram:
        """A histogram rebuilt from stored counts (moments unknown: left empty)."""
        return cls(edges=np.asarray(edges, dtype=np.float64), counts=np.asarray(counts, dtype=np.int64), nulls=nulls)

    def empty(self) -> NumericHistogram:
        """A histogram on the same edges with nothing counted."""
        return NumericHistogram(edges=self.edges, counts=np.zeros_like(self.counts))

    @property
    def count(self) -> int:
        """Finite values counted (nulls excluded)."""
        return int(self.counts.sum())

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")

    @property
    def std(self) -> float:
        n = self.count
        if n < 2:
            return float("nan")
        return float(np.sqrt(max(self.total_sq - self.total**2 / n, 0.0) / (n - 1)))

    def bin_counts_for(self, values: ArrayLike) -> np.ndarray:
        """Counts of a batch's finite values on these edges (no sketch needed)."""
        arr = _finite(values)
        return np.bincount(np.searchsorted(self.edges, arr, side="right"), minlength=self.counts.size)

    def update(self, values: ArrayLike) -> NumericHistogram:
        """A new histogram with the batch added (vectorised; NaN and inf count as null)."""
        raw = np.asarray(values, dtype=np.float64).ravel()
        arr = raw[np.isfinite(raw)]
        if arr.size == 0:
            return self._replace(nulls=self.nulls + raw.size)
        return self._replace(
            counts=self.counts + self.bin_counts_for(arr),
            total=self.total + float(arr.sum()),
            total_sq=self.total_sq + float(np.dot(arr, arr)),
            minimum=min(self.minimum, float(arr.min())),
            maximum=max(self.maximum, float(arr.max())),
            nulls=self.nulls + (raw.size - arr.size),
        )

    def merge(self, other: NumericHistogram) -> NumericHistogram:
        if not np.array_equal(self.edges, other.edges):
            raise ValueError("histograms on different edges cannot be merged")
        return self._replace(
            counts=self.counts + other.counts,
            total=self.total + other.total,
            total_sq=self.total_sq + other.total_sq,
            minimum=min(self.minimum, other.minimum),
            maximum=max(self.maximum, other.maximum),
            nulls=self.nulls + other.nulls,
        )

    def proportions(self) -> np.ndarray:
        n = self.count
        return self.counts / n if n else np.zeros(self.counts.size)

    def to_bytes(self) -> bytes:
        header = {"total": self.total, "total_sq": self.total_sq, "min": self.minimum, "max": self.maximum,
                  "nulls": self.nulls}
        return _codec.encode(_MAGIC, header, {"edges": self.edges, "counts": self.counts})

    @classmethod
    def from_bytes(cls, data: bytes) -> NumericHistogram:
        head, arrays = _codec.decode(_MAGIC, data)
        return cls(edges=arrays["edges"], counts=arrays["counts"], total=float(head["total"]),
                   total_sq=float(head["total_sq"]), minimum=float(head["min"]),
                   maximum=float(head["max"]), nulls=int(head["nulls"]))

    def _replace(self, **changes: object) -> NumericHistogram:
        fields = {"edges": self.edges, "counts": self.counts, "total": self.total, "total_sq": self.total_sq,
                  "minimum": self.minimum, "maximum": self.maximum, "nulls": self.nulls}
        return NumericHistogram(**{**fields, **changes})  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NumericHistogram):
            return NotImplemented
        return bool(np.array_equal(self.edges, other.edges) and np.array_equal(self.counts, other.counts)
                and self.nulls == other.nulls and self.minimum == other.minimum and self.maximum == other.maximum
                and np.isclose(self.total, other.total) and np.isclose(self.total_sq, other.total_sq))

    __hash__ = None  # type: ignore[assignment]
