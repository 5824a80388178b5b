"""Detectors on a 0/1 error stream (joined labels: 1 = the model was wrong): river's DDM, EDDM, HDDM_A, HDDM_W."""

from __future__ import annotations

import math
from typing import Any

from river.drift import binary

from driftline.detectors.online.base import ErrorStreamDetector


class DDMDetector(ErrorStreamDetector):
    """DDM (river): the error rate plus its std against their lowest point.

    ``statistic`` is the error rate so far (since the last drift).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = DDMDetector()
    >>> errors = np.r_[rng.random(1000) < 0.1, rng.random(1000) < 0.4]
    >>> [(v.index, round(v.statistic, 3)) for v in d.update_many(errors) if v.drift]
    [(1172, 0.135)]
    """

    name = "ddm"
    STATE_FIELDS = ("_drift_detected", "_warning_detected", "_p", "_p_min", "_s_min", "_ps_min")

    def _make(self) -> Any:
        return binary.DDM(**self.params)

    def _statistic(self) -> float | None:
        return float(self._river._p.get())


class EDDMDetector(ErrorStreamDetector):
    """EDDM (river): the distance between errors, for gradual drift.

    ``statistic`` is the level compared with ``alpha`` (warning) and ``beta``
    (drift): mean + 2 std of the distance between errors over its maximum.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = EDDMDetector()
    >>> [v.index for v in d.update_many(np.r_[rng.random(1000) < 0.1, rng.random(1000) < 0.4]) if v.drift][:2]
    [1090, 1182]
    """

    name = "eddm"
    STATE_FIELDS = (
        "_drift_detected", "_warning_detected", "_error_distances", "_n", "_last_error", "_n_errors", "_p2s_prime_max",
    )

    def _make(self) -> Any:
        return binary.EDDM(**self.params)

    def _statistic(self) -> float | None:
        d = self._river
        if d._p2s_prime_max <= 0:
            return None
        return float((d._error_distances.mean.get() + 2 * math.sqrt(d._error_distances.get())) / d._p2s_prime_max)


class HDDMADetector(ErrorStreamDetector):
    """HDDM_A (river's HDDMA): Hoeffding bounds on moving averages.

    ``statistic`` is the error rate so far (since the last drift).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = HDDMADetector()
    >>> [v.index for v in d.update_many(np.r_[rng.random(1000) < 0.1, rng.random(1000) < 0.4]) if v.drift]
    [1053]
    """

    name = "hddm_a"
    STATE_FIELDS = ("_drift_detected", "_warning_detected", "_x_min", "_x_max", "_z")

    def _make(self) -> Any:
        return binary.HDDMA(**self.params)

    def _statistic(self) -> float | None:
        return float(self._river._z.get())


class HDDMWDetector(ErrorStreamDetector):
    """HDDM_W (river's HDDMW): Hoeffding bounds on exponentially weighted moving averages.

    ``statistic`` is the weighted error rate (weight ``lambda_val`` on the newest value).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(42)
    >>> d = HDDMWDetector()
    >>> [v.index for v in d.update_many(np.r_[rng.random(1000) < 0.1, rng.random(1000) < 0.4]) if v.drift]
    [1053]
    """

    name = "hddm_w"
    STATE_FIELDS = (
        "_drift_detected", "_warning_detected", "_total", "_s1_decr", "_s1_incr", "_s2_decr", "_s2_incr",
        "_incr_cutpoint", "_decr_cutpoint",
    )

    def _make(self) -> Any:
        return binary.HDDMW(**self.params)

    def _statistic(self) -> float | None:
        return float(self._river._total.ewma)
