"""Everything that touches Kafka or Redis, in role subpackages (docs/architecture.md):

``app`` (the faust app, worker, preflight, topics, metrics), ``ingest`` (Kafka in), ``pipeline`` (per-batch
logic on the state ports), ``state`` (the only package that knows Redis keys), ``references``, ``cli``,
``stack`` (a local Kafka and Redis) and ``testing`` (workloads and oracles for tests and benchmarks).

What the views layer reads is re-exported here: the state it opens and the history it draws. Lazily: a
command such as ``driftline stack up`` must not pay for importing the state (numpy, scipy, redis).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftline.streams.state import (
        FeaturePoint,
        HistoryStore,
        LabelStore,
        MemoryState,
        RedisState,
        RetrainStore,
        State,
        WindowPoint,
        WindowStore,
    )

__all__ = [
    "FeaturePoint",
    "HistoryStore",
    "LabelStore",
    "MemoryState",
    "RedisState",
    "RetrainStore",
    "State",
    "WindowPoint",
    "WindowStore",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("driftline.streams.state"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
