"""Window statistics: a current histogram or sketch against the reference's."""

from __future__ import annotations

from driftline.detectors.stats.distances import chi_square, hellinger, jensen_shannon
from driftline.detectors.stats.psi import PSI_CRITICAL, PSI_WARNING, psi
from driftline.detectors.stats.sketch_tests import interquartile_range, ks_statistic, wasserstein
from driftline.detectors.stats.verdict import WindowVerdict
from driftline.detectors.stats.window_tests import (
    chi_square_test,
    hellinger_test,
    js_test,
    ks_test,
    psi_test,
    wasserstein_test,
)

__all__ = [
    "PSI_CRITICAL",
    "PSI_WARNING",
    "WindowVerdict",
    "chi_square",
    "chi_square_test",
    "hellinger",
    "hellinger_test",
    "interquartile_range",
    "jensen_shannon",
    "js_test",
    "ks_statistic",
    "ks_test",
    "psi",
    "psi_test",
    "wasserstein",
    "wasserstein_test",
]
