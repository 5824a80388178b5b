"""What each online detector's detection means, in words, with the parameter that decides it.

An online detector has no threshold on the statistic its alert carries (DDM's is the error rate since its
last reset): it fires when its own rule says the stream changed. An alert line must say that rule, not
compare the statistic with a made-up threshold, and a detector's "resolved" means only that it saw no further
change, never that the model recovered (the ``__performance__`` window test says that).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DECIDING_PARAMETER: dict[str, tuple[str, float]] = {
    "ddm": ("drift_threshold", 3.0),
    "eddm": ("beta", 0.9),
    "hddm_a": ("drift_confidence", 0.001),
    "hddm_w": ("drift_confidence", 0.001),
    "adwin": ("delta", 0.002),
    "page_hinkley": ("threshold", 50.0),
    "kswin": ("alpha", 0.005),
}
"""Per detector: the parameter its detection rule turns on, and river's (or our KSWIN's) default."""

_RULES: dict[str, str] = {
    "ddm": "error rate p + s rose above p_min + {v:g}·s_min",
    "eddm": "mean distance between errors fell below {v:g} of its maximum",
    "hddm_a": "error rate rose beyond its Hoeffding bound (confidence {v:g})",
    "hddm_w": "weighted error rate rose beyond its McDiarmid bound (confidence {v:g})",
    "adwin": "two sub-windows' means differ beyond ADWIN's bound (delta {v:g})",
    "page_hinkley": "cumulative deviation from the mean exceeded {v:g}",
    "kswin": "KS test of the newest values against older ones at alpha {v:g}",
}


def deciding_value(detector: str, params: Mapping[str, Any]) -> float | None:
    """The value of the detector's deciding parameter (its default when the spec sets none).

    >>> deciding_value("ddm", {}), deciding_value("ddm", {"drift_threshold": 2.5}), deciding_value("psi", {})
    (3.0, 2.5, None)
    """
    if detector not in DECIDING_PARAMETER:
        return None
    name, default = DECIDING_PARAMETER[detector]
    return float(params.get(name, default))


def decision_rule(detector: str, value: float) -> str:
    """The detector's rule in words, at ``value`` of its deciding parameter.

    >>> decision_rule("ddm", 3.0)
    'error rate p + s rose above p_min + 3·s_min'
    """
    return _RULES.get(detector, "{v:g}").format(v=value)


def is_online(detector: str) -> bool:
    return detector in DECIDING_PARAMETER
