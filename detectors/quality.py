"""Data-quality signals of a closed window, beside the drift tests: each a share of the feature's values in
the window against the reference's share of the same thing.

================  ====================================================  ==================================
signal            the share of the window's values that are ...         the reference's share
================  ====================================================  ==================================
``missing``       null, NaN or absent from the event                    its nulls
``type_mismatch`` of the wrong type (a string in a numeric feature)     its values of the wrong type
``out_of_range``  outside the reference's [min, max] (numeric)          2 / (n + 1): a fresh value of the
                                                                        same distribution falls outside
                                                                        the extremes of n with that chance
``unseen``        of categories the reference does not list             its ``__other__`` share
                  (named, with their counts, in the alert)
================  ====================================================  ==================================

A feature whose values go null, of the wrong type or to categories never seen leaves its distribution tests
little or nothing to compare, so without these signals such a feature could look calm. Each is one-sided (a
rise): a z test of the window's share against the reference's plus half the minimum rise (a trickle under
that is no drift) at ``alpha`` per feature and window (``1 / thresholds.ert_windows``, the rate
every test of a feature is held to: :data:`QUALITY_ALPHA` by default), with few counts
also an exact binomial tail (:data:`EXACT_BELOW`: with few values in a small window the normal approximation
is far too bold), **and** a minimum rise (:data:`MIN_RISE`), so a large window
does not alert on a trivial one. Its result is a
:class:`~driftline.detectors.window_compare.FeatureWindow` keyed ``<feature>#<signal>``: its own alert state,
alert (its ``detector`` is the signal) and history column. A signal is computed only when the window or the
reference has some of what it counts, or its alert has a state (it must see the window that resolves it), so a
clean feature costs nothing.

The window's counts hold, per feature, the reference's bins (``"0"``, ``"1"``, ...) and the fields below,
written by the worker's binning (:mod:`driftline.streams.pipeline.plan`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from urllib.parse import quote, unquote

from scipy.stats import binom, norm

from driftline.config import ModelSpec, segment_key
from driftline.detectors.reference import AnyFeatureReference, CategoricalReference, ModelReference
from driftline.detectors.spec_resolution import monitored_features
from driftline.detectors.stats.verdict import WindowVerdict
from driftline.detectors.window_compare import FeatureWindow, segments_of

MISSING = "missing"
TYPE_MISMATCH = "type_mismatch"
OUT_OF_RANGE = "out_of_range"
UNSEEN = "unseen"
SIGNALS = (MISSING, TYPE_MISMATCH, OUT_OF_RANGE, UNSEEN)

NULL_BIN = "null"
WRONG_TYPE_BIN = "type"
OUT_OF_RANGE_BIN = "out"
UNSEEN_PREFIX = "~"
"""A bucket field ``<feature>:~<name>`` counts an unseen category by name (percent-encoded, no ``:``)."""
UNSEEN_NAMED_PER_BATCH = 5
"""The most frequent unseen categories of a batch named per bucket: a bound on a bucket's fields."""
UNSEEN_NAMED_IN_ALERT = 10
UNSEEN_NAME_CHARS = 64

MIN_RISE = {MISSING: 0.02, TYPE_MISMATCH: 0.01, OUT_OF_RANGE: 0.02, UNSEEN: 0.01}
QUALITY_ALPHA = 1e-6
"""Per signal, feature and window at the default ``ert_windows`` (a million): 24 features over a day of minute
windows is ~35,000 tests, so about one false alarm a month of them; the minimum rise keeps large windows quiet
on trivial rises."""
EXACT_BELOW = 50
"""A window count under this is also tested exactly (binomial tail at the reference's share, at least half a value
in the reference): the larger p-value holds."""


def values_counted(bins: Mapping[str, int]) -> int:
    """How many of the feature's values a window's counts hold: its bins, its missing and its wrong-typed
    values (``out`` and the unseen names count values its bins hold already).

    >>> values_counted({"0": 5, "3": 2, "null": 1, "type": 1, "out": 2, "~kiosk": 2})
    9
    """
    return sum(n for b, n in bins.items() if b.isdigit() or b in (NULL_BIN, WRONG_TYPE_BIN))


def unseen_bin(category: str) -> str:
    """The bin name an unseen category is counted under.

    >>> unseen_bin("new: value"), unseen_name(unseen_bin("new: value"))
    ('~new%3A%20value', 'new: value')
    """
    return UNSEEN_PREFIX + quote(category[:UNSEEN_NAME_CHARS], safe="")


def unseen_name(bin_name: str) -> str:
    return unquote(bin_name[len(UNSEEN_PREFIX):])


def quality_windows(reference: ModelReference, spec: ModelSpec, counts: Mapping[str, Mapping[str, int]], *,
                    alpha: float | None = None, tracked: Collection[str] = ()) -> list[FeatureWindow]:
    """Every data-quality signal of every monitored feature (and segment) with ``min_samples`` events that
    has something to say (see the module), each at ``alpha`` (default: ``1 / spec.thresholds.ert_windows``).

    >>> import numpy as np
    >>> ref = ModelReference.build("m", "v1", {"x": np.arange(1000.0)}, n_bins=4,
    ...                            categorical={"c": ["web", "app"] * 500})
    >>> spec = ModelSpec.model_validate({"features": {"x": {}, "c": {"kind": "categorical"}},
    ...                                  "thresholds": {"min_samples": 100}})
    >>> window = {"x": {"0": 700, "3": 100, "type": 200, "out": 100}, "c": {"0": 900, "2": 100, "~kiosk": 100}}
    >>> [(w.key, w.severity) for w in quality_windows(ref, spec, window)]
    [('x#type_mismatch', 'critical'), ('x#out_of_range', 'critical'), ('c#unseen', 'critical')]
    >>> quality_windows(ref, spec, window)[-1].values
    {'kiosk': 100}
    """
    alpha = alpha if alpha is not None else 1.0 / spec.thresholds.ert_windows
    results = []
    for name in monitored_features(spec, reference):
        feature = reference.features[name]
        for segment in (None, *segments_of(name, counts)):
            key = segment_key(name, segment)
            results.extend(_feature_signals(feature, name, segment, counts.get(key, {}), spec.thresholds.min_samples,
                                            alpha, tracked))
    return results


def missing_windows(reference: ModelReference, spec: ModelSpec, counts: Mapping[str, Mapping[str, int]], *,
                    alpha: float | None = None, tracked: Collection[str] = ()) -> list[FeatureWindow]:
    """The ``missing`` signal alone (a feature absent from an event counts as missing).

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
    return [w for w in quality_windows(reference, spec, counts, alpha=alpha, tracked=tracked) if w.signal == MISSING]


def _feature_signals(feature: AnyFeatureReference, name: str, segment: str | None, window: Mapping[str, int],
                     min_samples: int, alpha: float, tracked: Collection[str]) -> list[FeatureWindow]:
    binned = sum(int(v) for k, v in window.items() if k.isdigit())
    nulls, wrong = int(window.get(NULL_BIN, 0)), int(window.get(WRONG_TYPE_BIN, 0))
    n = binned + nulls + wrong
    if n < min_samples:
        return []
    ref_binned = sum(feature.counts)
    ref_n = ref_binned + feature.nulls + (0 if isinstance(feature, CategoricalReference) else feature.mismatched)
    if ref_n <= 0:
        return []
    key = segment_key(name, segment)
    # (signal, the window's count, of how many, the reference's count, of how many)
    shares: list[tuple[str, int, int, float, int]] = [(MISSING, nulls, n, feature.nulls, ref_n)]
    values: dict[str, int] | None = None
    if isinstance(feature, CategoricalReference):
        other = int(window.get(str(len(feature.categories)), 0))
        shares.append((UNSEEN, other, binned, feature.counts[-1], ref_binned))
        named = sorted(((unseen_name(k), int(v)) for k, v in window.items() if k.startswith(UNSEEN_PREFIX)),
                       key=lambda kv: (-kv[1], kv[0]))
        values = dict(named[:UNSEEN_NAMED_IN_ALERT])
    else:
        shares.append((TYPE_MISMATCH, wrong, n, feature.mismatched, ref_n))
        if feature.low is not None:
            shares.append((OUT_OF_RANGE, int(window.get(OUT_OF_RANGE_BIN, 0)), binned,
                           2 * ref_binned / (ref_binned + 1), ref_binned))
    results = []
    for signal, count, of, ref_count, ref_of in shares:
        seen_in_reference = ref_count > 0 and signal != OUT_OF_RANGE
        if of < min_samples or not (count or seen_in_reference or f"{key}#{signal}" in tracked):
            continue
        verdict = _share_verdict(signal, count, of, ref_count, ref_of, alpha)
        p_ref, p_win = ref_count / ref_of, count / of
        results.append(FeatureWindow(name, verdict, None, (1 - p_ref, p_ref), (1 - p_win, p_win), segment,
                                     signal=signal, values=values if signal == UNSEEN else None))
    return results


def _share_verdict(signal: str, count: int, n: int, ref_count: float, ref_n: int, alpha: float) -> WindowVerdict:
    """One-sided test of the window's share against the reference's share plus half the minimum rise (a trickle
    below that, such as a new category in 0.1 % of the values, is no drift: tested against the reference's share
    alone, a window of 100 with two such values would fire every few hours), and the minimum rise itself; the
    threshold reported is the share it fires above at this window's n.

    >>> _share_verdict(UNSEEN, 2, 100, 0, 20_000, 2e-4).drift  # a 0.1 % trickle's unlucky window
    False
    >>> _share_verdict(UNSEEN, 8, 100, 0, 20_000, 2e-4).drift
    True
    >>> _share_verdict(MISSING, 60, 1000, 200, 20_000, 2e-4).drift  # 1 % of the values null, now 6 %
    True
    """
    p_ref, p_win = ref_count / ref_n, count / n
    rise = MIN_RISE[signal]
    tolerated = min(p_ref + rise / 2, 1.0 - 1e-9)
    ref_var = p_ref * (1 - p_ref) / ref_n
    spread = math.sqrt(max(tolerated * (1 - tolerated) / n + ref_var, 1e-12))
    p_value = float(norm.sf((p_win - tolerated) / spread))
    if 0 < count < EXACT_BELOW:  # few counts: the normal approximation is too bold
        p_value = max(p_value, float(binom.sf(count - 1, n, max(tolerated, 0.5 / ref_n))))
    noise = float(norm.isf(alpha)) * spread
    drift = p_value < alpha and p_win - p_ref >= rise
    return WindowVerdict(signal, p_win, max(p_ref + rise, tolerated + noise), ref_n, n, drift=drift, p_value=p_value)
