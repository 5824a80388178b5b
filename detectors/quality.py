"""Data-quality signals of a closed window, beside the drift tests: today the **missing** rate.

A feature that goes null (or disappears from the events: an absent feature counts as missing) leaves its
distribution tests nothing to compare, so without this signal a feature 100 % null would look calm. The
window's missing share is compared with the reference's (which records its nulls) by a one-sided
two-proportion z test; the signal fires when the share rose beyond sampling noise (p below ``alpha``) **and** by
at least :data:`MIN_MISSING_RISE` (two points), so a large window does not alert on a trivial rise. Its result
is a :class:`~driftline.detectors.window_compare.FeatureWindow` whose key is ``<feature>#missing``: its own
alert state, alert (detector ``missing``) and history column.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

from scipy.stats import norm

from driftline.config import ModelSpec, segment_key
from driftline.detectors.reference import ModelReference
from driftline.detectors.spec_resolution import monitored_features
from driftline.detectors.stats.verdict import WindowVerdict
from driftline.detectors.window_compare import FeatureWindow, segments_of

MISSING = "missing"
MIN_MISSING_RISE = 0.02
MISSING_ALPHA = 1e-6
"""Per feature and window: 24 features over a day of minute windows is ~35,000 tests, so about one false alarm
a month of them; the two-point minimum rise keeps large windows quiet on trivial rises."""


def missing_windows(reference: ModelReference, spec: ModelSpec, counts: Mapping[str, Mapping[str, int]], *,
                    alpha: float = MISSING_ALPHA, tracked: Collection[str] = ()) -> list[FeatureWindow]:
    """The missing-rate signal of every monitored feature (and segment) with ``min_samples`` events, where the
    window or the reference has missing values or the signal has an alert state (``tracked`` keys: it must
    see the window that resolves it); a feature never missing anywhere adds nothing to the window.

    >>> import numpy as np
    >>> ref = ModelReference.build("m", "v1", {"x": np.r_[np.arange(990.0), [np.nan] * 10]}, n_bins=4)
    >>> spec = ModelSpec.model_validate({"features": {"x": {}}, "thresholds": {"min_samples": 100}})
    >>> (w,) = missing_windows(ref, spec, {"x": {"0": 750, "null": 250}})
    >>> w.key, round(w.verdict.statistic, 2), w.severity
    ('x#missing', 0.25, 'critical')
    >>> [w.severity for w in missing_windows(ref, spec, {"x": {"0": 985, "null": 15}})]
    [None]
    >>> clean = ModelReference.build("m", "v1", {"x": np.arange(1000.0)}, n_bins=4)
    >>> missing_windows(clean, spec, {"x": {"0": 1000}}), len(missing_windows(clean, spec, {"x": {"0": 1000}},
    ...                                                                       tracked=["x#missing"]))
    ([], 1)
    """
    results = []
    z_alpha = float(norm.isf(alpha))
    for name in monitored_features(spec, reference):
        feature = reference.features[name]
        ref_n = sum(feature.counts) + feature.nulls
        if ref_n <= 0:
            continue
        p_ref = feature.nulls / ref_n
        for segment in (None, *segments_of(name, counts)):
            window = counts.get(segment_key(name, segment), {})
            nulls = int(window.get("null", 0))
            n = nulls + sum(int(v) for k, v in window.items() if k.isdigit())
            key = f"{segment_key(name, segment)}#{MISSING}"
            if n < spec.thresholds.min_samples or not (nulls or feature.nulls or key in tracked):
                continue
            p_win = nulls / n
            pooled = (feature.nulls + nulls) / (ref_n + n)
            spread = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / n + 1 / ref_n))
            p_value = float(norm.sf((p_win - p_ref) / spread))
            noise = z_alpha * math.sqrt(max(p_ref * (1 - p_ref), 1e-12) * (1 / n + 1 / ref_n))
            band = p_ref + max(MIN_MISSING_RISE, noise)
            drift = p_value < alpha and p_win - p_ref >= MIN_MISSING_RISE
            verdict = WindowVerdict(MISSING, p_win, band, ref_n, n, drift=drift, p_value=p_value)
            results.append(FeatureWindow(name, verdict, None, (1 - p_ref, p_ref), (1 - p_win, p_win), segment,
                                         signal=MISSING))
    return results
