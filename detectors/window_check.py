"""Compare one closed window's histograms with the model's reference, feature by feature.

This is the walking skeleton's decision: PSI on the reference's bins, an alert
when PSI reaches the critical band. The full monitor replaces it with the
configurable window tests, multiple-testing control and the alert policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from driftline.config.events import DriftAlert, HistogramEvidence, TimeWindow
from driftline.detectors.ids import alert_id
from driftline.detectors.reference import FeatureReference, ModelReference
from driftline.detectors.stats import psi

PSI_WARNING = 0.1
PSI_CRITICAL = 0.25
DETECTOR = "psi"


@dataclass(frozen=True)
class FeatureWindow:
    """A feature's PSI in one window, with both distributions as proportions.

    >>> FeatureWindow('amount', 0.3, 100, 50, (0.5, 0.5), (0.2, 0.8)).psi
    0.3
    """

    feature: str
    psi: float
    n_reference: int
    n_current: int
    reference: tuple[float, ...]
    current: tuple[float, ...]


def compare_window(reference: ModelReference, counts: Mapping[str, Mapping[str, int]]) -> list[FeatureWindow]:
    """Every reference feature with at least one value in the window, compared with the reference."""
    results = (compare_feature(name, feature, counts.get(name, {})) for name, feature in reference.features.items())
    return [r for r in results if r.n_current > 0]


def compare_feature(name: str, reference: FeatureReference, bin_counts: Mapping[str, int]) -> FeatureWindow:
    """PSI of a window's ``{bin index: count}`` (``"null"`` is ignored) against the reference.

    A window without a value of the feature has no PSI (NaN) rather than an error.
    """
    ref = np.asarray(reference.counts, dtype=np.float64)
    cur = np.zeros(reference.n_bins, dtype=np.float64)
    for bin_name, count in bin_counts.items():
        if bin_name.isdigit() and int(bin_name) < reference.n_bins:
            cur[int(bin_name)] = count
    return FeatureWindow(
        feature=name,
        psi=float(psi(ref, cur)) if cur.sum() > 0 else float("nan"),
        n_reference=int(ref.sum()),
        n_current=int(cur.sum()),
        reference=tuple(float(x) for x in ref / max(ref.sum(), 1.0)),
        current=tuple(float(x) for x in cur / max(cur.sum(), 1.0)),
    )


def drift_alerts(
    reference: ModelReference,
    results: Sequence[FeatureWindow],
    *,
    start: datetime,
    end: datetime,
    min_samples: int = 100,
    critical: float = PSI_CRITICAL,
) -> list[DriftAlert]:
    """Firing alerts for every feature whose window PSI is at or above ``critical``.

    Windows with fewer than ``min_samples`` values in a feature say nothing about it.
    """
    alerts = []
    window = TimeWindow(start=start, end=end)
    for result in results:
        name, feature = result.feature, reference.features[result.feature]
        if result.n_current < min_samples or not result.psi >= critical:
            continue
        alerts.append(
            DriftAlert(
                alert_id=alert_id(
                    model_id=reference.model_id,
                    feature=name,
                    detector=DETECTOR,
                    window_start=start,
                    window_end=end,
                    state="firing",
                    reference_version=reference.version,
                ),
                model_id=reference.model_id,
                feature=name,
                detector=DETECTOR,
                statistic=result.psi,
                threshold=critical,
                severity="critical",
                state="firing",
                window=window,
                reference_version=reference.version,
                n_reference=result.n_reference,
                n_current=result.n_current,
                evidence=HistogramEvidence(
                    edges=list(feature.edges), reference=list(result.reference), current=list(result.current)
                ),
            )
        )
    return alerts
