"""A model's reference profile, against which every window is compared: per numeric
feature the bin edges and counts of the training (or warm-up) data, per categorical
feature its most frequent categories and counts (the rest pooled as ``__other__``).
The prediction itself is the feature ``__prediction__`` (prior drift).

Both kinds are *binned*: a value maps to a bin index, so a window is one hash of
``feature:bin -> count`` in Redis whatever the kind. Pure data with a versioned
JSON encoding; the stream layer stores it in Redis and on the compacted
references topic.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from driftline.detectors.sketches.histogram import DISCRETE_MAX_VALUES, NumericHistogram
from driftline.detectors.values import numeric_values

FORMAT_VERSION = 2
OTHER = "__other__"

Chunks = tuple[tuple[int, ...], ...]
"""Consecutive chunks of an ordered reference, each its counts on the feature's bins."""


@dataclass(frozen=True)
class FeatureReference:
    """Inner bin edges (outer bins open-ended, so ``len(counts) == len(edges) + 1``) and counts.

    The profile also records the reference's missing values (``nulls``), its values of the wrong type
    (``mismatched``: :mod:`~driftline.detectors.values`) and its range (``low``, ``high``: None in references
    built before they were recorded).

    >>> f = FeatureReference(edges=(0.0, 1.0), counts=(5, 5, 5))
    >>> f.bin_counts([-1.0, 0.5, 2.0, float('nan')]).tolist()
    [1, 1, 1]
    >>> FeatureReference.build([0.0, 2.0, float("nan"), 5.0], n_bins=2).to_dict()["range"]
    [0.0, 5.0]
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    kind: Literal["numeric"] = "numeric"
    nulls: int = 0
    low: float | None = None
    high: float | None = None
    mismatched: int = 0
    discrete: bool = False
    """A few distinct values (a flag, a count, a code), one bin each (``quantile_edges``): tested as discrete."""
    chunks: Chunks = ()
    """An ordered reference's consecutive chunks' counts on these bins (:mod:`~driftline.detectors.variability`);
    empty when the reference's row order means nothing."""

    @classmethod
    def build(cls, values: ArrayLike, *, n_bins: int = 10, mismatched: int = 0) -> FeatureReference:
        """Edges fit to the values (:func:`~driftline.detectors.sketches.histogram.quantile_edges`), their counts,
        missing values, values of the wrong type and range. ``mismatched``: how many of a float column's NaN
        stand for values of the wrong type (a reader that parsed the column already)."""
        if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
            raw = np.asarray(values, dtype=np.float64).ravel()
        else:
            parsed = numeric_values(list(np.asarray(values, dtype=object).ravel()))
            raw, mismatched = parsed.column, parsed.mismatched
        finite = raw[np.isfinite(raw)]
        hist = NumericHistogram.from_reference(finite, n_bins=n_bins)
        return cls(edges=tuple(float(e) for e in hist.edges), counts=tuple(int(c) for c in hist.counts),
                   nulls=int(raw.size - finite.size) - mismatched, low=float(finite.min()),
                   high=float(finite.max()), mismatched=mismatched,
                   discrete=np.unique(finite).size <= DISCRETE_MAX_VALUES)

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.edges) + 1:
            raise ValueError(f"{len(self.edges)} edges need {len(self.edges) + 1} counts, got {len(self.counts)}")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must be strictly increasing")
        _check_chunks(self.chunks, self.n_bins)

    @property
    def n_bins(self) -> int:
        return len(self.counts)

    def histogram(self) -> NumericHistogram:
        return NumericHistogram.from_counts(self.edges, self.counts)

    def bin_counts(self, values: ArrayLike) -> np.ndarray:
        """Counts of finite ``values`` on these bins (vectorised; NaN is left out)."""
        return self.histogram().bin_counts_for(values)

    def bin_indices(self, values: ArrayLike) -> np.ndarray:
        """Each value's bin, -1 for a value that is not a finite number.

        >>> FeatureReference(edges=(0.0, 1.0), counts=(5, 5, 5)).bin_indices([-1.0, 0.5, 2.0, float("nan")]).tolist()
        [0, 1, 2, -1]
        """
        if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
            column = np.asarray(values, dtype=np.float64).ravel()
        else:
            column = numeric_values(list(np.asarray(values, dtype=object).ravel())).column
        return np.where(np.isfinite(column), np.searchsorted(np.asarray(self.edges), column, side="right"), -1)

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"kind": self.kind, "edges": list(self.edges), "counts": list(self.counts)}
        if self.nulls:
            data["nulls"] = self.nulls
        if self.low is not None and self.high is not None:
            data["range"] = [self.low, self.high]
        if self.mismatched:
            data["mismatched"] = self.mismatched
        if self.discrete:
            data["discrete"] = True
        if self.chunks:
            data["chunks"] = [list(c) for c in self.chunks]
        return data


@dataclass(frozen=True)
class CategoricalReference:
    """The reference's most frequent categories and their counts; the last count is ``__other__``
    (every category outside the list, in the reference and in later windows alike).

    >>> c = CategoricalReference.build(["web", "web", "app", "pos"], max_categories=2)
    >>> c.categories, c.counts, c.n_bins
    (('web', 'app'), (2, 1, 1), 3)
    >>> c.bin_indices(["app", "atm", None]).tolist()
    [1, 2, -1]
    """

    categories: tuple[str, ...]
    counts: tuple[int, ...]
    kind: Literal["categorical"] = "categorical"
    nulls: int = 0
    chunks: Chunks = ()
    """An ordered reference's consecutive chunks' counts on these bins, as :attr:`FeatureReference.chunks`."""

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.categories) + 1:
            raise ValueError(f"{len(self.categories)} categories need {len(self.categories) + 1} counts "
                             f"(the last is {OTHER}), got {len(self.counts)}")
        if len(set(self.categories)) != len(self.categories):
            raise ValueError("categories must be distinct")
        _check_chunks(self.chunks, self.n_bins)

    @classmethod
    def build(cls, values: Iterable[object], *, max_categories: int = 50) -> CategoricalReference:
        """The ``max_categories`` most frequent values (as strings; ties by name), the rest pooled."""
        listed = list(values)
        counter = Counter(category_name(v) for v in listed if v is not None)
        top = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:max_categories]
        categories = tuple(name for name, _ in top)
        other = sum(counter.values()) - sum(n for _, n in top)
        return cls(categories=categories, counts=(*(n for _, n in top), other),
                   nulls=sum(1 for v in listed if v is None))

    @property
    def n_bins(self) -> int:
        return len(self.counts)

    @property
    def labels(self) -> tuple[str, ...]:
        """Bin names in order: the categories, then ``__other__``."""
        return (*self.categories, OTHER)

    def bin_indices(self, values: Sequence[object]) -> np.ndarray:
        """Each value's bin: its category's index, ``__other__``'s for unseen ones, -1 for missing."""
        index = {name: i for i, name in enumerate(self.categories)}
        other = len(self.categories)
        return np.fromiter(
            (-1 if v is None else index.get(v if type(v) is str else category_name(v), other) for v in values),
            dtype=np.int64, count=len(values),
        )

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"kind": self.kind, "categories": list(self.categories), "counts": list(self.counts)}
        if self.nulls:
            data["nulls"] = self.nulls
        if self.chunks:
            data["chunks"] = [list(c) for c in self.chunks]
        return data


AnyFeatureReference = FeatureReference | CategoricalReference


def _check_chunks(chunks: Chunks, n_bins: int) -> None:
    if any(len(chunk) != n_bins for chunk in chunks):
        raise ValueError(f"every chunk needs {n_bins} counts, one per bin")


def category_name(value: object) -> str:
    """A value as a category: strings as they are, whole numbers without a fraction (``1.0`` is ``"1"``),
    so classes logged as 1, 1.0 or "1" are one category.

    >>> category_name("web"), category_name(1), category_name(1.0), category_name(0.5), category_name(True)
    ('web', '1', '1', '0.5', 'true')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class ModelReference:
    """Reference profiles of one model's features (numeric and categorical), at one version.

    >>> rng = np.random.default_rng(0)
    >>> ref = ModelReference.build("fraud", "v1", {"amount": rng.normal(size=1000)}, n_bins=4)
    >>> ref.features["amount"].counts
    (250, 250, 250, 250)
    >>> ModelReference.from_json(ref.to_json()) == ref
    True
    """

    model_id: str
    version: str
    features: Mapping[str, AnyFeatureReference]
    performance: Mapping[str, float] | None = None
    """The model's performance on labelled reference data (:mod:`driftline.detectors.performance` counters), what
    its performance windows are compared with; None: its first joined labels form that reference."""
    chunk_rows: int | None = None
    """Rows per chunk of an ordered reference (its features' ``chunks``); None when its row order means nothing."""

    @property
    def ordered(self) -> bool:
        return self.chunk_rows is not None

    @classmethod
    def build(
        cls,
        model_id: str,
        version: str,
        samples: Mapping[str, ArrayLike],
        *,
        n_bins: int = 10,
        categorical: Mapping[str, Iterable[object]] | None = None,
        max_categories: int = 50,
        bins_of: Mapping[str, int] | None = None,
        max_categories_of: Mapping[str, int] | None = None,
        mismatched_of: Mapping[str, int] | None = None,
        ordered: bool = False,
    ) -> ModelReference:
        """Quantile bins of each numeric sample (deduplicated edges); top categories of each categorical one.
        ``bins_of`` / ``max_categories_of``: per feature, over ``n_bins`` / ``max_categories``;
        ``mismatched_of``: per numeric feature, its wrong-typed values (NaN in a parsed column); ``ordered``: the
        samples' order means something (rows in time order), so each feature also keeps its consecutive chunks'
        counts (:func:`~driftline.detectors.variability.chunk_counts`; every sample has one value per row).

        >>> ref = ModelReference.build("m", "v1", {"x": np.arange(100.0)}, n_bins=2,
        ...                            categorical={"channel": ["web", "app", "web"]})
        >>> ref.features["channel"].categories
        ('web', 'app')
        """
        features: dict[str, AnyFeatureReference] = {}
        for name, values in samples.items():
            features[name] = FeatureReference.build(values, n_bins=(bins_of or {}).get(name, n_bins),
                                                    mismatched=(mismatched_of or {}).get(name, 0))
        for name, cat_values in (categorical or {}).items():
            features[name] = CategoricalReference.build(
                cat_values, max_categories=(max_categories_of or {}).get(name, max_categories))
        if not ordered:
            return cls(model_id=model_id, version=version, features=features)
        ordered_samples: dict[str, Any] = {**samples, **(categorical or {})}
        return _with_chunks(cls(model_id=model_id, version=version, features=features), ordered_samples)

    def to_json(self) -> bytes:
        data: dict[str, object] = {
            "format": FORMAT_VERSION,
            "model_id": self.model_id,
            "version": self.version,
            "features": {n: f.to_dict() for n, f in self.features.items()},
        }
        if self.performance is not None:
            data["performance"] = dict(self.performance)
        if self.chunk_rows is not None:
            data["chunk_rows"] = self.chunk_rows
        return json.dumps(data).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> ModelReference:
        """Format 2, or format 1 (numeric features only, before categorical references)."""
        data = json.loads(raw)
        if data.get("format") not in (1, FORMAT_VERSION):
            raise ValueError(f"unknown reference format {data.get('format')!r}; expected {FORMAT_VERSION}")
        features = {name: _feature_from_dict(f) for name, f in data["features"].items()}
        performance = data.get("performance")
        chunk_rows = data.get("chunk_rows")
        return cls(model_id=data["model_id"], version=data["version"], features=features,
                   performance={k: float(v) for k, v in performance.items()} if performance else None,
                   chunk_rows=None if chunk_rows is None else int(chunk_rows))


def _with_chunks(reference: ModelReference, samples: Mapping[str, Any]) -> ModelReference:
    """``reference`` with each feature's consecutive chunks of its sample, in the sample's order.

    >>> ref = ModelReference.build("m", "v1", {"x": np.r_[np.zeros(500), np.ones(500)]}, n_bins=2, ordered=True)
    >>> ref.chunk_rows, len(ref.features["x"].chunks), ref.features["x"].chunks[0], ref.features["x"].chunks[-1]
    (50, 20, (50, 0), (0, 50))
    """
    from driftline.detectors.variability import chunk_counts

    features: dict[str, AnyFeatureReference] = {}
    rows = None
    for name, feature in reference.features.items():
        values = list(samples[name]) if isinstance(feature, CategoricalReference) else samples[name]
        counts, rows = chunk_counts(feature.bin_indices(values), feature.n_bins)
        features[name] = dataclasses.replace(feature, chunks=tuple(tuple(int(x) for x in c) for c in counts))
    return dataclasses.replace(reference, features=features, chunk_rows=rows)


def _feature_from_dict(data: Mapping[str, Any]) -> AnyFeatureReference:
    nulls = int(data.get("nulls", 0))
    chunks = tuple(tuple(int(x) for x in c) for c in data.get("chunks", ()))
    if data.get("kind", "numeric") == "categorical":
        return CategoricalReference(categories=tuple(data["categories"]), counts=tuple(data["counts"]), nulls=nulls,
                                    chunks=chunks)
    low, high = data.get("range") or (None, None)
    return FeatureReference(edges=tuple(data["edges"]), counts=tuple(data["counts"]), nulls=nulls,
                            low=None if low is None else float(low), high=None if high is None else float(high),
                            mismatched=int(data.get("mismatched", 0)), discrete=bool(data.get("discrete", False)),
                            chunks=chunks)


def content_version(reference: ModelReference) -> str:
    """A version derived from the reference's content: the same data gives the same version.

    >>> import numpy as np
    >>> a = ModelReference.build("m", "draft", {"x": np.arange(100.0)}, n_bins=4)
    >>> b = ModelReference.build("m", "draft", {"x": np.arange(100.0)}, n_bins=4)
    >>> content_version(a) == content_version(b), len(content_version(a))
    (True, 12)
    """
    return hashlib.sha256(reference.to_json()).hexdigest()[:12]


def versioned(draft: ModelReference, version: str | None = None, *, prefix: str = "") -> ModelReference:
    """``draft`` under ``version``, or under ``prefix`` + its content's version when none is given."""
    return dataclasses.replace(draft, version=version or f"{prefix}{content_version(draft)}")
