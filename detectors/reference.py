"""A model's reference profile: per numeric feature, the bin edges and counts of the
training (or warm-up) data, against which every window is compared.

Pure data with a versioned JSON encoding; the stream layer stores it in Redis and
on the compacted references topic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from driftline.detectors.sketches.histogram import NumericHistogram

FORMAT_VERSION = 1


@dataclass(frozen=True)
class FeatureReference:
    """Inner bin edges (outer bins open-ended, so ``len(counts) == len(edges) + 1``) and counts.

    >>> f = FeatureReference(edges=(0.0, 1.0), counts=(5, 5, 5))
    >>> f.bin_counts([-1.0, 0.5, 2.0, float('nan')]).tolist()
    [1, 1, 1]
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.edges) + 1:
            raise ValueError(f"{len(self.edges)} edges need {len(self.edges) + 1} counts, got {len(self.counts)}")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must be strictly increasing")

    @property
    def n_bins(self) -> int:
        return len(self.counts)

    def histogram(self) -> NumericHistogram:
        return NumericHistogram.from_counts(self.edges, self.counts)

    def bin_counts(self, values: ArrayLike) -> np.ndarray:
        """Counts of finite ``values`` on these bins (vectorised; NaN is left out)."""
        return self.histogram().bin_counts_for(values)


@dataclass(frozen=True)
class ModelReference:
    """Reference profiles of one model's numeric features, at one version.

    >>> rng = np.random.default_rng(0)
    >>> ref = ModelReference.build("fraud", "v1", {"amount": rng.normal(size=1000)}, n_bins=4)
    >>> ref.features["amount"].counts
    (250, 250, 250, 250)
    >>> ModelReference.from_json(ref.to_json()) == ref
    True
    """

    model_id: str
    version: str
    features: Mapping[str, FeatureReference]

    @classmethod
    def build(
        cls, model_id: str, version: str, samples: Mapping[str, ArrayLike], *, n_bins: int = 10
    ) -> ModelReference:
        """Quantile bins of each feature's reference sample (deduplicated edges)."""
        features = {}
        for name, values in samples.items():
            hist = NumericHistogram.from_reference(values, n_bins=n_bins)
            features[name] = FeatureReference(
                edges=tuple(float(e) for e in hist.edges), counts=tuple(int(c) for c in hist.counts)
            )
        return cls(model_id=model_id, version=version, features=features)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "format": FORMAT_VERSION,
                "model_id": self.model_id,
                "version": self.version,
                "features": {n: {"edges": f.edges, "counts": f.counts} for n, f in self.features.items()},
            }
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> ModelReference:
        data = json.loads(raw)
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown reference format {data.get('format')!r}; expected {FORMAT_VERSION}")
        features = {
            name: FeatureReference(edges=tuple(f["edges"]), counts=tuple(f["counts"]))
            for name, f in data["features"].items()
        }
        return cls(model_id=data["model_id"], version=data["version"], features=features)
