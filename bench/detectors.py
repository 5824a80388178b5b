"""Updates per second of every sketch (batch API, 1M values) and every online detector, and the cost of
deciding one window (``compare_window``: every test the spec asks for, on 20 numeric and 3 categorical
features, as the worker runs it at each window close) at 100, 6,000 and 100,000 events per window.

    python bench/detectors.py [--values 1000000] [--online-values 200000]

Prints one line per figure and ends with one JSON line of all of them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from driftline.config.monitor_spec import ModelSpec
from driftline.detectors.reference import ModelReference
from driftline.detectors.sketches import CategoricalCounts, NumericHistogram, QuantileSketch
from driftline.detectors.spec_resolution import resolve_spec
from driftline.detectors.window_compare import compare_window

WINDOW_EVENTS = (100, 6_000, 100_000)


def rate(n: int, fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def bench_sketches(n: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    values = rng.lognormal(3, 1, n)
    hist = NumericHistogram.from_reference(values[:100_000], n_bins=10).empty()
    categories = rng.choice(np.array([f"c{i}" for i in range(200)], dtype=object), size=n)
    cat = CategoricalCounts.from_reference(categories[:100_000], max_categories=50).empty()
    return {
        "numeric_histogram": rate(n, lambda: hist.update(values)),
        "quantile_sketch": rate(n, lambda: QuantileSketch().update(values)),
        "categorical_counts": rate(n, lambda: cat.update(categories)),
    }


def bench_online_detectors(n: int) -> dict[str, float]:
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from online_detectors import bench_online  # type: ignore[import-not-found]
    except ImportError:
        return {}
    return bench_online(n)


def bench_window_close(sizes: tuple[int, ...] = WINDOW_EVENTS) -> dict[str, float]:
    """Milliseconds to decide one window of 23 features (half of the numeric ones shifted by 0.1 sd)."""
    rng = np.random.default_rng(1)
    numeric = {f"x{i}": rng.normal(0, 1, 20_000) for i in range(20)}
    categorical = {f"c{i}": rng.choice(["a", "b", "c", "d"], 20_000).tolist() for i in range(3)}
    reference = ModelReference.build("m", "v1", numeric, n_bins=10, categorical=categorical)
    spec = resolve_spec("m", reference, {}, ModelSpec())  # every feature, as the worker infers them
    figures: dict[str, float] = {}
    for n in sizes:
        window: dict[str, dict[str, int]] = {}
        for name, feature in reference.features.items():
            if feature.kind == "categorical":
                bins = np.asarray(feature.bin_indices(rng.choice(["a", "b", "c", "d"], n).tolist()))
            else:
                shift = 0.1 if int(name[1:]) % 2 else 0.0
                bins = np.searchsorted(np.asarray(feature.edges), rng.normal(shift, 1, n), side="right")
            window[name] = {str(b): int(c) for b, c in enumerate(np.bincount(bins, minlength=feature.n_bins)) if c}
        figures[f"window_close_ms.{n}_events"] = 1000 / rate(1, lambda w=window: compare_window(reference, spec, w),
                                                             repeat=5)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--online-values", type=int, default=200_000)
    args = parser.parse_args()
    figures = {f"sketch.{k}": v for k, v in bench_sketches(args.values).items()}
    figures |= {f"online.{k}": v for k, v in bench_online_detectors(args.online_values).items()}
    closes = bench_window_close()
    for name, value in closes.items():
        print(f"{name:<32} {value:>14,.2f} ms per window of 23 features")
    for name, value in figures.items():
        print(f"{name:<32} {value:>14,.0f} updates/s")
    print(json.dumps({**{name: round(value) for name, value in figures.items()},
                      **{name: round(value, 2) for name, value in closes.items()}}))


if __name__ == "__main__":
    main()
