"""Window tests: a current sketch against the reference's, each returning a WindowVerdict.

Histogram tests (PSI, JS, Hellinger, chi-square) take anything with ``counts`` on
the same bins: a NumericHistogram or CategoricalCounts. KS and Wasserstein take
QuantileSketches. Thresholds are parameters with the field's conventional defaults.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from driftline.detectors.sketches.quantile import QuantileSketch
from driftline.detectors.stats.distances import chi_square, hellinger, jensen_shannon
from driftline.detectors.stats.psi import PSI_CRITICAL, PSI_WARNING, psi
from driftline.detectors.stats.sketch_tests import interquartile_range, ks_statistic, wasserstein
from driftline.detectors.stats.verdict import WindowVerdict


class Binned(Protocol):
    @property
    def counts(self) -> np.ndarray: ...


def _sizes(reference: Binned, current: Binned) -> tuple[int, int]:
    return int(np.sum(reference.counts)), int(np.sum(current.counts))


def psi_test(
    reference: Binned, current: Binned, *, warning: float = PSI_WARNING, critical: float = PSI_CRITICAL
) -> WindowVerdict:
    """PSI with the 0.1 / 0.25 bands.

    >>> from driftline.detectors.sketches import NumericHistogram
    >>> rng = np.random.default_rng(0)
    >>> ref = NumericHistogram.from_reference(rng.normal(size=20_000))
    >>> v = psi_test(ref, ref.empty().update(rng.normal(0.5, 1, 2_000)))
    >>> round(v.statistic, 3), v.warning, v.drift
    (0.226, True, False)
    """
    value = psi(reference.counts, current.counts)
    n_ref, n_cur = _sizes(reference, current)
    return WindowVerdict("psi", value, critical, n_ref, n_cur, drift=value >= critical, warning=value >= warning,
                         warning_threshold=warning)


def js_test(reference: Binned, current: Binned, *, threshold: float = 0.1) -> WindowVerdict:
    """Jensen-Shannon distance (base 2) against ``threshold``."""
    value = jensen_shannon(reference.counts, current.counts)
    return WindowVerdict("jensen_shannon", value, threshold, *_sizes(reference, current), drift=value >= threshold)


def hellinger_test(reference: Binned, current: Binned, *, threshold: float = 0.1) -> WindowVerdict:
    value = hellinger(reference.counts, current.counts)
    return WindowVerdict("hellinger", value, threshold, *_sizes(reference, current), drift=value >= threshold)


def chi_square_test(reference: Binned, current: Binned, *, alpha: float = 0.05) -> WindowVerdict:
    """Chi-square test of homogeneity (categories, predicted classes, or bins); drift when p < alpha.

    At production sample sizes this flags trivial shifts: use it as a gate, not alone
    (see :mod:`driftline.detectors.gating`).
    """
    statistic, p_value, _ = chi_square(reference.counts, current.counts)
    return WindowVerdict("chi_square", statistic, alpha, *_sizes(reference, current), drift=p_value < alpha,
                         p_value=p_value)


def ks_test(reference: QuantileSketch, current: QuantileSketch, *, alpha: float = 0.05) -> WindowVerdict:
    """Two-sample Kolmogorov-Smirnov from sketches; drift when p < alpha (a gate, as chi-square)."""
    d, p_value = ks_statistic(reference, current)
    return WindowVerdict("ks", d, alpha, reference.count, current.count, drift=p_value < alpha, p_value=p_value)


def wasserstein_test(reference: QuantileSketch, current: QuantileSketch, *, threshold: float = 0.1) -> WindowVerdict:
    """Wasserstein-1 divided by the reference's interquartile range (robust to outliers,
    unlike the standard deviation), so one threshold fits features of any scale.

    >>> rng = np.random.default_rng(0)
    >>> ref = QuantileSketch().update(rng.normal(50, 10, 20_000))
    >>> v = wasserstein_test(ref, QuantileSketch().update(rng.normal(55, 10, 2_000)))
    >>> round(v.statistic, 2), v.drift
    (0.35, True)
    """
    spread = interquartile_range(reference)
    if spread <= 0:
        raise ValueError("the reference has no spread (IQR 0): Wasserstein cannot be normalised")
    value = wasserstein(reference, current) / spread
    return WindowVerdict("wasserstein", value, threshold, reference.count, current.count, drift=value >= threshold)
