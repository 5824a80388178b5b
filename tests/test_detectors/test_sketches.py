"""Sketch properties: merge of halves == whole, bytes round trip, batch == sum of parts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from driftline.detectors.sketches import (
    OTHER,
    CategoricalCounts,
    NumericHistogram,
    QuantileSketch,
    SketchFormatError,
)

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
with_nulls = st.one_of(finite, st.just(float("nan")), st.just(float("inf")))
values = arrays(np.float64, st.integers(0, 300), elements=with_nulls)
REFERENCE = NumericHistogram.from_reference(np.random.default_rng(0).normal(0, 1000, 5000), n_bins=10)
words = st.lists(st.one_of(st.sampled_from(["a", "b", "c", "d", "zz"]), st.none()), max_size=200)
CATEGORIES = CategoricalCounts.from_reference(["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"], max_categories=3)


@given(values, values)
def test_histogram_merge_of_halves_equals_whole(first: np.ndarray, second: np.ndarray) -> None:
    whole = REFERENCE.empty().update(np.concatenate([first, second]))
    assert REFERENCE.empty().update(first).merge(REFERENCE.empty().update(second)) == whole
    assert whole.count + whole.nulls == first.size + second.size


@given(values)
def test_histogram_bytes_round_trip(batch: np.ndarray) -> None:
    h = REFERENCE.empty().update(batch)
    assert NumericHistogram.from_bytes(h.to_bytes()) == h


@given(values, values)
@settings(max_examples=50)
def test_quantile_sketch_merge_of_halves_equals_whole_exactly(first: np.ndarray, second: np.ndarray) -> None:
    whole = QuantileSketch().update(np.concatenate([first, second]))
    assert QuantileSketch().update(first).merge(QuantileSketch().update(second)) == whole
    assert QuantileSketch.from_bytes(whole.to_bytes()) == whole


@given(arrays(np.float64, st.integers(1, 300), elements=finite), st.floats(0, 1))
def test_quantiles_are_within_relative_error_of_an_order_statistic(batch: np.ndarray, q: float) -> None:
    sketch = QuantileSketch(alpha=0.01).update(batch)
    got = float(sketch.quantile(q))
    exact = float(np.sort(batch)[int(np.floor(q * (batch.size - 1)))])
    assert abs(got - exact) <= 0.01 * abs(exact) + 1e-9 * 2


@given(words, words)
def test_categorical_merge_and_round_trip(first: list[str | None], second: list[str | None]) -> None:
    whole = CATEGORIES.empty().update(np.array(first + second, dtype=object))
    merged = CATEGORIES.empty().update(np.array(first, dtype=object)).merge(
        CATEGORIES.empty().update(np.array(second, dtype=object)))
    assert merged == whole
    assert CategoricalCounts.from_bytes(whole.to_bytes()) == whole
    expected_other = sum(1 for w in first + second if w in ("d", "zz"))
    assert whole.counts[whole.labels.index(OTHER)] == expected_other


def test_histogram_outer_bins_are_open_ended_and_nulls_apart() -> None:
    h = REFERENCE.empty().update(np.array([-1e12, 1e12, np.nan, -np.inf]))
    assert h.counts[0] == 1 and h.counts[-1] == 1 and h.nulls == 2


def test_merge_refuses_different_layouts() -> None:
    other = NumericHistogram.from_reference(np.arange(10.0), n_bins=3)
    with pytest.raises(ValueError, match="different edges"):
        REFERENCE.merge(other)
    with pytest.raises(ValueError, match="different alpha"):
        QuantileSketch(alpha=0.01).merge(QuantileSketch(alpha=0.02))


@pytest.mark.parametrize("kind", [NumericHistogram, QuantileSketch, CategoricalCounts])
def test_foreign_truncated_or_future_bytes_are_refused(kind: type) -> None:
    sample = {NumericHistogram: REFERENCE, QuantileSketch: QuantileSketch().update([1.0, 2.0]),
              CategoricalCounts: CATEGORIES}[kind]
    data = sample.to_bytes()
    with pytest.raises(SketchFormatError, match="not a"):
        kind.from_bytes(b"XXXX" + data[4:])
    with pytest.raises(SketchFormatError):
        kind.from_bytes(data[:-3])
    with pytest.raises(SketchFormatError, match="version 9"):
        kind.from_bytes(data[:4] + bytes([9]) + data[5:])
    with pytest.raises(SketchFormatError, match="too short"):
        kind.from_bytes(b"DL")
