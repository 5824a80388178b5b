"""Window statistics: a current histogram or sketch against the reference's."""

from __future__ import annotations

from driftline.detectors.stats.psi import PSI_CRITICAL, PSI_WARNING, psi

__all__ = ["PSI_CRITICAL", "PSI_WARNING", "psi"]
