"""Updates per second of every sketch (batch API, 1M values) and every online detector.

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

from driftline.detectors.sketches import CategoricalCounts, NumericHistogram, QuantileSketch


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--online-values", type=int, default=200_000)
    args = parser.parse_args()
    figures = {f"sketch.{k}": v for k, v in bench_sketches(args.values).items()}
    figures |= {f"online.{k}": v for k, v in bench_online_detectors(args.online_values).items()}
    for name, value in figures.items():
        print(f"{name:<32} {value:>14,.0f} updates/s")
    print(json.dumps({name: round(value) for name, value in figures.items()}))


if __name__ == "__main__":
    main()
