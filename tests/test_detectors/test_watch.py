"""The online watch gives the same transitions however the stream is cut into batches, with the
detector and the watch saved and restored between batches (what the worker does)."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.detectors.online import make_detector
from driftline.detectors.online.base import OnlineDetector
from driftline.detectors.online.watch import StreamWatch, watch


def stream() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    xs = np.r_[rng.normal(0, 1, 1500), rng.normal(2, 1, 1500), rng.normal(2, 1, 1000)]
    return xs, np.arange(xs.size, dtype=float)


DETECTORS = [("adwin", {}), ("page_hinkley", {}), ("kswin", {"seed": 5, "alpha": 0.0001})]


@pytest.mark.parametrize(("name", "params"), DETECTORS)
@pytest.mark.parametrize("batch", [7, 500, 4000])
def test_transitions_do_not_depend_on_batching(name: str, params: dict[str, float], batch: int) -> None:
    xs, ts = stream()
    whole_state, whole = watch(make_detector(name, **params), StreamWatch(), xs, ts, resolve_after=300)
    saved, state, pieces = make_detector(name, **params).to_bytes(), StreamWatch(), []
    for start in range(0, xs.size, batch):
        detector = OnlineDetector.from_bytes(saved)
        state, out = watch(detector, StreamWatch.from_dict(state.to_dict()), xs[start:start + batch],
                           ts[start:start + batch], resolve_after=300)
        saved, pieces = detector.to_bytes(), pieces + out
    assert pieces == whole and state == whole_state
    assert any(t.state == "firing" and 1500 <= t.end < 1800 for t in whole)  # the change is found


def test_a_detection_while_firing_is_not_a_new_alert() -> None:
    detector = make_detector("page_hinkley", threshold=5.0)
    xs = np.r_[np.zeros(100), np.full(50, 3.0), np.full(50, 6.0), np.full(400, 6.0)]
    _, out = watch(detector, StreamWatch(), xs, np.arange(xs.size, dtype=float), resolve_after=200)
    assert [t.state for t in out] == ["firing", "resolved"]
