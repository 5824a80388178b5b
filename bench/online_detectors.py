"""Updates per second of each online detector through driftline's interface (``update_many``).

    python bench/online_detectors.py [--values 200000]

Real-valued detectors get N(0, 1) values, error-stream detectors 0/1 errors
at a 10% rate (both stable: the common case). KSWIN runs an exact two-sample
KS test per value, so it is timed on at most 20,000 values.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from driftline.detectors.online import DETECTORS, make_detector

ERROR_STREAMS = {"ddm", "eddm", "hddm_a", "hddm_w"}
CAPS = {"kswin": 20_000}
PARAMS: dict[str, dict[str, object]] = {"kswin": {"seed": 1}}


def bench_online(n: int = 200_000) -> dict[str, float]:
    """Updates per second per detector name, on ``n`` values (fewer for KSWIN, see ``CAPS``)."""
    rng = np.random.default_rng(0)
    real = rng.normal(0.0, 1.0, n)
    errors = (rng.random(n) < 0.1).astype(np.float64)
    rates: dict[str, float] = {}
    for name in sorted(DETECTORS):
        values = (errors if name in ERROR_STREAMS else real)[: CAPS.get(name, n)]
        detector = make_detector(name, **PARAMS.get(name, {}))
        start = time.perf_counter()
        detector.update_many(values)
        rates[name] = values.size / (time.perf_counter() - start)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--values", type=int, default=200_000)
    rates = bench_online(parser.parse_args().values)
    for name, value in rates.items():
        print(f"{name:<14} {value:>12,.0f} updates/s")
    print(json.dumps({name: round(value) for name, value in rates.items()}))


if __name__ == "__main__":
    main()
