"""KSWIN (Raab et al., 2020) with every threshold a parameter and its state as plain data.

river's KSWIN also requires the KS statistic to exceed a hard-coded 0.1; here
that is ``min_statistic`` (default 0.1, as river), so nothing is hidden.
"""

from __future__ import annotations

import collections
import itertools
import math
import random
from collections.abc import Iterable
from typing import Any, ClassVar

from scipy import stats

from driftline.detectors.online.errors import StateError


class KSWINCore:
    """The algorithm, with river's ``update`` / ``drift_detected`` surface.

    Parameters
    ----------
    alpha
        Per-test significance level; the test runs on every value once the window is full.
    window_size
        Values kept (bounded memory).
    stat_size
        Newest values tested against an equal-size random sample of the older ones.
    min_statistic
        The KS statistic must also exceed this (river hard-codes 0.1).
    seed
        Seed of the sampling RNG.
    window
        Values to start with (the newest regime after a drift).

    Examples
    --------
    >>> core = KSWINCore(window_size=10, stat_size=3, seed=0)
    >>> for x in range(10):
    ...     core.update(float(x))
    >>> len(core.window), core.drift_detected, round(core.statistic, 3)
    (10, False, 1.0)
    """

    STATE_FIELDS: ClassVar[tuple[str, ...]] = ("window", "rng", "p_value", "statistic", "drift_detected")

    def __init__(
        self,
        alpha: float = 0.005,
        window_size: int = 100,
        stat_size: int = 30,
        min_statistic: float = 0.1,
        seed: int | None = None,
        window: Iterable[float] = (),
    ) -> None:
        if not 0 < alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if not 0 < stat_size < window_size / 2:
            raise ValueError("stat_size must be positive and under half of window_size")
        if not 0 <= min_statistic < 1:
            raise ValueError("min_statistic must be in [0, 1)")
        self.alpha, self.window_size, self.stat_size, self.min_statistic = alpha, window_size, stat_size, min_statistic
        self.window: collections.deque[float] = collections.deque(window, maxlen=window_size)
        self._rng = random.Random(seed)
        self.p_value = 1.0
        self.statistic = 0.0
        self.drift_detected = False

    def update(self, x: float) -> None:
        self.window.append(x)
        self.drift_detected = False
        if len(self.window) < self.window_size:
            return
        older = self.window_size - self.stat_size
        sample = [self.window[i] for i in self._rng.sample(range(older), self.stat_size)]
        recent = list(itertools.islice(self.window, older, self.window_size))
        result = stats.ks_2samp(sample, recent, method="exact")
        self.statistic, self.p_value = float(result.statistic), float(result.pvalue)
        self.drift_detected = self.p_value <= self.alpha and self.statistic > self.min_statistic

    def recent(self) -> list[float]:
        """The newest ``stat_size`` values: the regime a drift switched to."""
        return list(itertools.islice(self.window, max(len(self.window) - self.stat_size, 0), len(self.window)))

    def get_state(self) -> dict[str, Any]:
        """The declared state fields as plain data."""
        version, internal, gauss_next = self._rng.getstate()
        return {
            "window": [float(v) for v in self.window],
            "rng": [version, list(internal), gauss_next],
            "p_value": self.p_value,
            "statistic": self.statistic,
            "drift_detected": self.drift_detected,
        }

    def set_state(self, data: dict[str, Any]) -> None:
        """Restore :meth:`get_state`'s output, checking every field."""
        if set(data) != set(self.STATE_FIELDS):
            raise StateError(f"kswin state has fields {sorted(data)}, expected {sorted(self.STATE_FIELDS)}")
        window, rng = data["window"], data["rng"]
        if not isinstance(window, list) or len(window) > self.window_size or not all(_finite(v) for v in window):
            raise StateError(f"kswin window must be at most {self.window_size} finite numbers")
        try:
            version, internal, gauss_next = rng
            self._rng.setstate((version, tuple(internal), gauss_next))
        except (TypeError, ValueError) as exc:
            raise StateError(f"kswin RNG state is malformed: {exc}") from None
        if not all(_finite(data[f]) for f in ("p_value", "statistic")) or not isinstance(data["drift_detected"], bool):
            raise StateError("kswin p_value/statistic must be numbers and drift_detected a flag")
        self.window = collections.deque(window, maxlen=self.window_size)
        self.p_value, self.statistic = float(data["p_value"]), float(data["statistic"])
        self.drift_detected = data["drift_detected"]


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
