"""References: building a model's baseline from training data, and publishing it (topic, then Redis)."""

from __future__ import annotations

from driftline.streams.references.errors import ReferenceDataError
from driftline.streams.references.performance import ReferencePerformance, performance_counters
from driftline.streams.references.publish import publish_reference
from driftline.streams.references.training_data import (
    ReferenceColumns,
    columns_from_rows,
    read_reference_data,
)

__all__ = ["ReferenceColumns", "ReferenceDataError", "ReferencePerformance", "columns_from_rows",
           "performance_counters", "publish_reference", "read_reference_data"]
