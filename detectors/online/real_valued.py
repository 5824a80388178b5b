"""Detectors on a real-valued stream (prediction scores, one feature): ADWIN, Page-Hinkley, KSWIN."""

from __future__ import annotations

from typing import Any, ClassVar

from river import drift

from driftline.detectors.online.base import OnlineDetector
from driftline.detectors.online.kswin import KSWINCore


class ADWINDetector(OnlineDetector):
    """ADWIN (river): an adaptive window that drops its older part when the two parts' means differ.

    Parameters are river's: ``delta``, ``clock``, ``max_buckets``,
    ``min_window_length``, ``grace_period``. ``statistic`` is the mean of the
    current window.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = ADWINDetector(delta=0.002)
    >>> [v.index for v in d.update_many(np.r_[rng.normal(0, 1, 1000), rng.normal(2, 1, 1000)])]
    [1023]
    """

    name = "adwin"
    STATE_FIELDS = ("_drift_detected", "_helper")  # _helper: river's Rust window (see ADR 0005)

    def _make(self) -> Any:
        return drift.ADWIN(**self.params)

    def _statistic(self) -> float | None:
        return float(self._river.estimation)


class PageHinkleyDetector(OnlineDetector):
    """Page-Hinkley (river): cumulative deviation from the running mean against ``threshold``.

    ``statistic`` is the test value compared with ``threshold`` (for
    ``mode="both"`` the larger of the two directions), once ``min_instances``
    values are in.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = PageHinkleyDetector(threshold=50.0, mode="up")
    >>> [(v.index, round(v.statistic, 1)) for v in d.update_many(np.r_[rng.normal(0, 1, 1000), rng.normal(2, 1, 1000)])]
    [(1019, 52.3)]
    """

    name = "page_hinkley"
    STATE_FIELDS = ("_drift_detected", "_x_mean", "_sum_increase", "_sum_decrease", "_min_increase", "_max_decrease")
    TRANSIENT = frozenset({"_test_drift"})  # a bound method chosen by ``mode``

    def _make(self) -> Any:
        return drift.PageHinkley(**self.params)

    def _statistic(self) -> float | None:
        d = self._river
        if d._x_mean.n < d.min_instances:
            return None
        up, down = d._sum_increase - d._min_increase, d._max_decrease - d._sum_decrease
        return float({"up": up, "down": down}.get(d.mode, max(up, down)))


class KSWINDetector(OnlineDetector):
    """KSWIN: KS test of the newest ``stat_size`` values against a sample of the older window.

    Our implementation (:class:`KSWINCore`), because river's hides a second
    threshold. After a drift it keeps its newest values (the new regime) and
    its RNG, as the algorithm intends. ``statistic`` is the KS statistic,
    ``p_value`` its p-value.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = KSWINDetector(alpha=0.0001, seed=1)
    >>> _ = rng.normal(0, 1, 500)
    >>> [(v.index, round(v.statistic, 3)) for v in d.update_many(np.r_[rng.normal(0, 1, 500), rng.normal(2, 1, 500)])]
    [(512, 0.567)]
    """

    name = "kswin"
    STATE_FIELDS: ClassVar[tuple[str, ...]] = KSWINCore.STATE_FIELDS

    def _make(self) -> Any:
        return KSWINCore(**self.params)

    def _statistic(self) -> float | None:
        return float(self._river.statistic)

    def _p_value(self) -> float | None:
        return float(self._river.p_value)

    def _fresh_after_drift(self) -> Any:
        core = KSWINCore(**{**self.params, "window": self._river.recent()})
        core._rng = self._river._rng  # keep the seeded sequence going
        return core

    def get_state(self) -> dict[str, Any]:
        core: KSWINCore = self._river
        return core.get_state()

    def _set_state(self, data: dict[str, Any]) -> None:
        core = self._make()
        core.set_state(data)
        self._river = core
