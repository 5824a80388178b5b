"""KSWIN (Raab et al., 2020) with every threshold a parameter.

river's KSWIN also requires the KS statistic to exceed a hard-coded 0.1; here
that is ``min_statistic`` (default 0.1, as river), so nothing is hidden.
"""

from __future__ import annotations

import collections
import itertools
import random
from collections.abc import Iterable

from scipy import stats


class KSWINCore:
    """The algorithm, with river's ``update`` / ``drift_detected`` surface.

    >>> core = KSWINCore(window_size=10, stat_size=3, seed=0)
    >>> for x in range(10):
    ...     core.update(float(x))
    >>> len(core.window), core.drift_detected
    (10, False)
    """

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
        return list(itertools.islice(self.window, self.window_size - self.stat_size, self.window_size))
