"""Warm-up references: for a model without training data, its first N production events become its
reference (``warmup_events`` in its spec, or ``driftline worker --warmup-events N``).

The rows are collected in Redis under the partition watermarks (exactly once, like
window counts); whichever worker sees N rows first builds the reference, which is
deterministic in the rows, and the first one set wins. Events used for the
reference are not also counted in windows: the monitored stream starts after them.
"""

from __future__ import annotations

import orjson

from driftline.config import CategoricalFeature, ModelSpec, NumericFeature
from driftline.detectors import ModelReference, versioned
from driftline.streams.references import columns_from_rows


def warmup_reference(model_id: str, rows: list[bytes], *, n_bins: int = 10, max_categories: int = 50,
                     spec: ModelSpec | None = None) -> ModelReference:
    """The reference of these warm-up rows (JSON objects of features and ``__prediction__``), versioned
    ``warmup-<content hash>``; the spec's per-feature ``bins`` and ``max_categories`` where it sets them.
    Raises ``ReferenceDataError`` when no column holds a value.

    >>> rows = [orjson.dumps({"x": float(i), "c": "ab"[i % 2], "__prediction__": 0.1}) for i in range(100)]
    >>> ref = warmup_reference("m", rows, n_bins=4)
    >>> sorted(ref.features), ref.features["c"].kind, ref.version.startswith("warmup-")
    (['__prediction__', 'c', 'x'], 'categorical', True)
    >>> spec = ModelSpec(features={"x": NumericFeature(bins=2)}, warmup_events=100)
    >>> len(warmup_reference("m", rows, spec=spec).features["x"].counts)
    2
    """
    decoded = [orjson.loads(row) for row in rows]
    columns = columns_from_rows(decoded, source=f"warm-up events of {model_id}")
    features = spec.features if spec is not None else {}
    bins_of = {k: f.bins for k, f in features.items() if isinstance(f, NumericFeature) and "bins" in f.model_fields_set}
    categories_of = {k: f.max_categories for k, f in features.items()
                     if isinstance(f, CategoricalFeature) and "max_categories" in f.model_fields_set}
    draft = ModelReference.build(model_id, "draft", columns.numeric, n_bins=n_bins,
                                 categorical=columns.categorical, max_categories=max_categories,
                                 bins_of=bins_of, max_categories_of=categories_of, mismatched_of=columns.mismatched)
    return versioned(draft, prefix="warmup-")
