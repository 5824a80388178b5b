"""Mergeable, serialisable distribution sketches, updated from whole numpy batches."""

from __future__ import annotations

from driftline.detectors.sketches._codec import SketchFormatError
from driftline.detectors.sketches.categorical import OTHER, CategoricalCounts
from driftline.detectors.sketches.histogram import NumericHistogram, quantile_edges
from driftline.detectors.sketches.quantile import QuantileSketch

__all__ = ["OTHER", "CategoricalCounts", "NumericHistogram", "QuantileSketch", "SketchFormatError", "quantile_edges"]
