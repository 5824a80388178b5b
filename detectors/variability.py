"""A reference's own variability: how much its consecutive stretches of a window's size differ from the whole.

Training data ordered by region or by time varies by itself: compared with the whole reference, each month of
it reads as drift. When the reference's row order means something (``reference build --time-column`` or
``--ordered``, issue 18's item 2), its values are also counted in at most :data:`MAX_CHUNKS` consecutive chunks
of at least :data:`MIN_CHUNK_ROWS` rows. For a window of ``n`` events, consecutive chunks are grouped by
``round(n / chunk_rows)`` (at least :data:`MIN_GROUPS` groups), each group's statistic taken against the whole,
and the bar is their mean plus :data:`VARIABILITY_SDS` standard deviations (as NannyML's thresholds on its
reference chunks). A window is then held to the larger of this bar and the calibrated one
(:class:`~driftline.detectors.thresholds.Bar`); the bar is cached per (feature's chunks, groups), so it costs
nothing per window once computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from driftline.detectors.stats.effects import effect_statistic

MAX_CHUNKS = 100
MIN_CHUNK_ROWS = 50
MIN_GROUPS = 3
VARIABILITY_SDS = 3.0


def chunk_counts(bin_index: np.ndarray, n_bins: int, *, max_chunks: int = MAX_CHUNKS,
                 min_rows: int = MIN_CHUNK_ROWS) -> tuple[np.ndarray, int]:
    """Each consecutive chunk's histogram (a ``(chunks, n_bins)`` array) of the reference's bin indices in their
    order, and the rows per chunk; the rows after the last whole chunk are left out, and so are missing values
    (index -1): a chunk holds ``rows`` rows, its counts the values among them.

    >>> counts, rows = chunk_counts(np.array([0, 0, 1, 1, 1, 0, 1]), 2, max_chunks=4, min_rows=2)
    >>> counts.tolist(), rows
    ([[2, 0], [0, 2], [1, 1]], 2)
    >>> chunk_counts(np.array([0, -1, 1, 1]), 2, max_chunks=2, min_rows=2)[0].tolist()
    [[1, 0], [0, 2]]
    """
    rows = max(min_rows, -(-len(bin_index) // max_chunks))
    chunks = len(bin_index) // rows
    if chunks == 0:
        return np.zeros((0, n_bins), dtype=np.int64), rows
    index = np.asarray(bin_index[: chunks * rows], dtype=np.int64).reshape(chunks, rows)
    offsets = np.arange(chunks)[:, None] * n_bins
    present = index >= 0
    counts = np.bincount((index + offsets)[present], minlength=chunks * n_bins).reshape(chunks, n_bins)
    return counts, rows


def variability_threshold(test: str, edges: Sequence[float] | None, chunks: np.ndarray, chunk_rows: int,
                          window_size: int, *, sds: float = VARIABILITY_SDS) -> float | None:
    """The bar the reference's own stretches of ``window_size`` rows set for ``test``: the mean of their statistic
    against the whole plus ``sds`` standard deviations; None when they make fewer than :data:`MIN_GROUPS` groups.

    >>> rng = np.random.default_rng(0)
    >>> ordered = np.r_[rng.integers(0, 7, 5000), rng.integers(3, 10, 5000)]  # two regions, one after the other
    >>> counts, rows = chunk_counts(ordered, 10)
    >>> round(variability_threshold("psi", None, counts, rows, 1000), 1)  # each stretch is one region
    1.6
    >>> counts, rows = chunk_counts(rng.permutation(ordered), 10)
    >>> variability_threshold("psi", None, counts, rows, 1000) < 0.05  # shuffled: only sampling noise
    True
    >>> variability_threshold("psi", None, counts, rows, 4000) is None  # 2 stretches of 4,000 rows: too few
    True
    """
    per_group = max(1, round(window_size / chunk_rows))
    groups = len(chunks) // per_group
    if groups < MIN_GROUPS:
        return None
    whole = chunks.sum(axis=0)
    grouped = chunks[: groups * per_group].reshape(groups, per_group, -1).sum(axis=1)
    stats = np.array([effect_statistic(test, edges, whole, g) for g in grouped])
    return float(stats.mean() + sds * stats.std(ddof=1))


def variability_bar(test: str, edges: Sequence[float] | None, chunks: tuple[tuple[int, ...], ...],
                    chunk_rows: int, window_size: int) -> float | None:
    """:func:`variability_threshold` of a reference's stored chunks, cached: the bar depends on the window's size
    only through how many chunks make one stretch of it.

    >>> chunks = ((50, 0), (0, 50), (50, 0), (0, 50), (50, 0), (0, 50))  # alternating halves of 50 rows
    >>> round(variability_bar("psi", None, chunks, 50, 50), 2), variability_bar("psi", None, chunks, 50, 100)
    (4.6, 0.0)
    """
    per_group = max(1, round(window_size / chunk_rows))
    return _variability_bar(test, None if edges is None else tuple(edges), chunks, chunk_rows, per_group)


@lru_cache(maxsize=4096)
def _variability_bar(test: str, edges: tuple[float, ...] | None, chunks: tuple[tuple[int, ...], ...],
                     chunk_rows: int, per_group: int) -> float | None:
    return variability_threshold(test, edges, np.asarray(chunks, dtype=np.float64), chunk_rows,
                                 per_group * chunk_rows)
