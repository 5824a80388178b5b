"""The seven detectors: river's ADWIN and Page-Hinkley, our KSWIN, and river's error-stream detectors."""

from __future__ import annotations

from typing import Any

from river import drift
from river.drift import binary

from driftline.detectors.online.base import ErrorStreamDetector, OnlineDetector
from driftline.detectors.online.kswin import KSWINCore


class ADWINDetector(OnlineDetector):
    """ADWIN: an adaptive window that drops its older part when the means differ (river).

    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = ADWINDetector(delta=0.002)
    >>> [v.index for v in d.update_many(np.r_[rng.normal(0, 1, 1000), rng.normal(2, 1, 1000)])]
    [1023]
    """

    name = "adwin"
    STATE_FIELDS = ("width", "total", "variance", "n_detections", "delta", "clock", "grace_period")

    def _make(self) -> Any:
        return drift.ADWIN(**self.params)

    def _statistic(self) -> float | None:
        return float(self._river.estimation)


class PageHinkleyDetector(OnlineDetector):
    """Page-Hinkley: cumulative deviation from the running mean against ``threshold`` (river).

    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = PageHinkleyDetector(threshold=50.0, mode="up")
    >>> [v.index for v in d.update_many(np.r_[rng.normal(0, 1, 1000), rng.normal(2, 1, 1000)])]
    [1019]
    """

    name = "page_hinkley"
    STATE_FIELDS = ("_x_mean", "_sum_increase", "_sum_decrease", "_min_increase", "_max_decrease", "threshold")

    def _make(self) -> Any:
        return drift.PageHinkley(**self.params)


class KSWINDetector(OnlineDetector):
    """KSWIN: KS test of the newest ``stat_size`` values against a sample of the older window.

    After a drift it keeps its newest values (the new regime), as the algorithm intends.

    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = KSWINDetector(alpha=0.0001, seed=1)
    >>> _ = rng.normal(0, 1, 500)
    >>> [v.index for v in d.update_many(np.r_[rng.normal(0, 1, 500), rng.normal(2, 1, 500)])]
    [512]
    """

    name = "kswin"
    STATE_FIELDS = ("window", "p_value", "statistic", "alpha", "window_size", "stat_size", "min_statistic")

    def _make(self) -> Any:
        return KSWINCore(**self.params)

    def _statistic(self) -> float | None:
        return float(self._river.p_value)

    def _fresh_after_drift(self) -> Any:
        core = KSWINCore(**{**self.params, "window": self._river.recent()})
        core._rng = self._river._rng  # keep the seeded sequence going
        return core


class DDMDetector(ErrorStreamDetector):
    """DDM: the error rate plus its std against their lowest point (river).

    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = DDMDetector()
    >>> [v.index for v in d.update_many(np.r_[rng.random(1000) < 0.1, rng.random(1000) < 0.4]) if v.drift]
    [1172]
    """

    name = "ddm"
    STATE_FIELDS = ("_p", "_p_min", "_s_min", "_ps_min", "warm_start", "warning_threshold", "drift_threshold")

    def _make(self) -> Any:
        return binary.DDM(**self.params)


class EDDMDetector(ErrorStreamDetector):
    """EDDM: the distance between errors, for gradual drift (river).

    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = EDDMDetector()
    >>> [v.index for v in d.update_many(np.r_[rng.random(1000) < 0.1, rng.random(1000) < 0.4]) if v.drift][:2]
    [1090, 1182]
    """

    name = "eddm"
    STATE_FIELDS = ("_n", "_n_errors", "_last_error", "_error_distances", "_p2s_prime_max", "alpha", "beta")

    def _make(self) -> Any:
        return binary.EDDM(**self.params)


class HDDMADetector(ErrorStreamDetector):
    """HDDM_A: Hoeffding bounds on moving averages (river's HDDMA).

    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = HDDMADetector()
    >>> [v.index for v in d.update_many(np.r_[rng.random(1000) < 0.1, rng.random(1000) < 0.4]) if v.drift][:2]
    [1053]
    """

    name = "hddm_a"
    STATE_FIELDS = ("_x_min", "_x_max", "_z", "drift_confidence", "warning_confidence", "two_sided_test")

    def _make(self) -> Any:
        return binary.HDDMA(**self.params)


class HDDMWDetector(ErrorStreamDetector):
    """HDDM_W: Hoeffding bounds on weighted moving averages (river's HDDMW).

    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = HDDMWDetector()
    >>> [v.index for v in d.update_many(np.r_[rng.random(1000) < 0.1, rng.random(1000) < 0.4]) if v.drift][:2]
    [1053]
    """

    name = "hddm_w"
    STATE_FIELDS = ("_total", "_s1_incr", "_s1_decr", "_s2_incr", "_s2_decr", "lambda_val", "drift_confidence")

    def _make(self) -> Any:
        return binary.HDDMW(**self.params)
