"""A mergeable quantile sketch with relative accuracy (the DDSketch idea), for KS and Wasserstein.

Values fall into logarithmic buckets ``(γ^(i-1), γ^i]`` with ``γ = (1+α)/(1-α)``
(mirrored for negatives, one bucket around zero), so every value is known to
within a relative error α. Unlike KLL it is deterministic: merging the sketches
of two halves gives exactly the sketch of the whole, and the CDF at bucket
boundaries is exact. docs/decisions/0004-quantile-sketch.md has the measurements
behind choosing it over DataSketches' KLL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from driftline.detectors.sketches import _codec

_MAGIC = b"DLQS"
DEFAULT_ALPHA = 0.005
MIN_MAGNITUDE = 1e-9  # |x| at or below this counts as zero
DEFAULT_MAX_BUCKETS = 8192


@dataclass(frozen=True, eq=False)
class QuantileSketch:
    """Sorted bucket keys and their counts; keys order like the values they hold.

    Key ``0`` is the zero bucket; key ``k > 0`` holds ``(γ^(k-b-1), γ^(k-b)]`` and
    ``-k`` its mirror, where ``b`` (the bias) keeps every key of a non-zero value
    away from 0.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(100, 10, 10_000)
    >>> s = QuantileSketch().update(x)
    >>> s.count, round(float(s.quantile(0.5)), 1), round(float(np.median(x)), 1)
    (10000, 100.0, 99.9)
    >>> QuantileSketch.from_bytes(s.to_bytes()) == s
    True
    """

    alpha: float = DEFAULT_ALPHA
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    nulls: int = 0
    max_buckets: int = DEFAULT_MAX_BUCKETS

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 0.5:
            raise ValueError("alpha must be in (0, 0.5)")
        object.__setattr__(self, "keys", np.asarray(self.keys, dtype=np.int64))
        object.__setattr__(self, "counts", np.asarray(self.counts, dtype=np.int64))

    @property
    def gamma(self) -> float:
        return (1 + self.alpha) / (1 - self.alpha)

    @property
    def _bias(self) -> int:
        return 1 - math.ceil(math.log(MIN_MAGNITUDE) / math.log(self.gamma))

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def update(self, values: ArrayLike) -> QuantileSketch:
        """A new sketch with the finite values added (NaN and inf count as null)."""
        raw = np.asarray(values, dtype=np.float64).ravel()
        arr = raw[np.isfinite(raw)]
        added = self._replace(nulls=self.nulls + raw.size - arr.size)
        if arr.size == 0:
            return added
        keys, counts = np.unique(self._keys_of(arr), return_counts=True)
        return added._with_buckets(np.concatenate([self.keys, keys]), np.concatenate([self.counts, counts]))

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        if other.alpha != self.alpha:
            raise ValueError("sketches with different alpha cannot be merged")
        merged = self._replace(nulls=self.nulls + other.nulls)
        keys = np.concatenate([self.keys, other.keys])
        return merged._with_buckets(keys, np.concatenate([self.counts, other.counts]))

    def values(self) -> np.ndarray:
        """Each bucket's representative value (within relative error α of every value in it)."""
        magnitude = np.abs(self.keys) - self._bias
        rep = 2.0 * np.power(self.gamma, magnitude.astype(np.float64)) / (self.gamma + 1.0)
        return np.where(self.keys == 0, 0.0, np.sign(self.keys) * rep)

    def upper_bounds(self) -> np.ndarray:
        """Each bucket's upper boundary: ``cdf_at_bounds`` is exact there."""
        magnitude = (np.abs(self.keys) - self._bias).astype(np.float64)
        pos = np.power(self.gamma, magnitude)
        neg = -np.power(self.gamma, magnitude - 1.0)
        return np.where(self.keys > 0, pos, np.where(self.keys < 0, neg, MIN_MAGNITUDE))

    def cdf(self, x: ArrayLike) -> np.ndarray:
        """Fraction of values at or below ``x``, read at bucket resolution."""
        if self.count == 0:
            raise ValueError("empty sketch")
        idx = np.searchsorted(self.values(), np.asarray(x, dtype=np.float64), side="right")
        cum = np.concatenate([[0], np.cumsum(self.counts)])
        return cum[idx] / self.count

    def quantile(self, q: ArrayLike) -> np.ndarray:
        """Values at quantiles ``q`` (each within relative error α of an exact order statistic)."""
        if self.count == 0:
            raise ValueError("empty sketch")
        rank = np.asarray(q, dtype=np.float64) * (self.count - 1)
        idx = np.searchsorted(np.cumsum(self.counts), rank, side="right")
        return self.values()[np.minimum(idx, self.keys.size - 1)]

    def to_bytes(self) -> bytes:
        header = {"alpha": self.alpha, "nulls": self.nulls, "max_buckets": self.max_buckets}
        return _codec.encode(_MAGIC, header, {"keys": self.keys, "counts": self.counts})

    @classmethod
    def from_bytes(cls, data: bytes) -> QuantileSketch:
        head, arrays = _codec.decode(_MAGIC, data)
        return cls(alpha=float(head["alpha"]), keys=arrays["keys"], counts=arrays["counts"],
                   nulls=int(head["nulls"]), max_buckets=int(head["max_buckets"]))

    def _keys_of(self, arr: np.ndarray) -> np.ndarray:
        magnitude = np.abs(arr)
        small = magnitude <= MIN_MAGNITUDE
        idx = np.ceil(np.log(np.where(small, 1.0, magnitude)) / math.log(self.gamma)).astype(np.int64) + self._bias
        return np.where(small, 0, np.sign(arr).astype(np.int64) * idx)

    def _with_buckets(self, keys: np.ndarray, counts: np.ndarray) -> QuantileSketch:
        uniq, inverse = np.unique(keys, return_inverse=True)
        summed = np.bincount(inverse, weights=counts, minlength=uniq.size).astype(np.int64)
        if uniq.size > self.max_buckets:
            # Collapse the lowest buckets into one: the accuracy loss lands on the far left tail only.
            cut = uniq.size - self.max_buckets
            summed[cut] += summed[:cut].sum()
            uniq, summed = uniq[cut:], summed[cut:]
        return self._replace(keys=uniq, counts=summed)

    def _replace(self, **changes: object) -> QuantileSketch:
        fields = {"alpha": self.alpha, "keys": self.keys, "counts": self.counts, "nulls": self.nulls,
                  "max_buckets": self.max_buckets}
        return QuantileSketch(**{**fields, **changes})  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantileSketch):
            return NotImplemented
        return bool(self.alpha == other.alpha and self.nulls == other.nulls
                and np.array_equal(self.keys, other.keys) and np.array_equal(self.counts, other.counts))

    __hash__ = None  # type: ignore[assignment]
