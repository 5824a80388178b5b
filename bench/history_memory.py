"""Redis memory of the dashboard's history: per (model, feature) per 1,000 closed windows, and per 1,000
alerts, written through the worker's own code (``RedisWindowStore.close_window`` and ``History``).

    python bench/history_memory.py [--windows 1000] [--alerts 1000]

Closes ``--windows`` windows of the demo's fraud model (20 numeric features with 10 bins, 3 categorical,
the score: 24 columns) with realistic statistics and counts, then reads ``MEMORY USAGE`` of the history
keys. Ends with one JSON line. Uses DRIFTLINE_REDIS_URL when set, else a local Redis.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import UTC, datetime

import numpy as np
from local_redis import on_redis  # bench/local_redis.py, beside this script

from driftline.config.events import DriftAlert, TimeWindow
from driftline.detectors.window_compare import FeatureWindow, WindowVerdict
from driftline.streams.pipeline.closing import latest_statistics
from driftline.streams.state import WindowClose, keys, window_point
from driftline.streams.state.history import RedisHistory
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import EPOCH, FraudSimulator

WINDOW_SECONDS = 3600


def results(sim_ref: dict[str, tuple[int, ...]], rng: np.random.Generator, n: int) -> list[FeatureWindow]:
    out = []
    for name, counts in sim_ref.items():
        reference = np.asarray(counts, dtype=float) / sum(counts)
        current = rng.multinomial(n, reference) / n
        statistic = float(rng.uniform(0.0, 0.3))
        verdict = WindowVerdict("psi", statistic, 0.2, sum(counts), n, drift=statistic > 0.2, warning=statistic > 0.1)
        out.append(FeatureWindow(name, verdict, None, tuple(reference), tuple(float(c) for c in current)))
    return out


async def run(redis_url: str, windows: int, n_alerts: int) -> dict[str, object]:
    store = RedisWindowStore.from_url(redis_url)
    model = f"bench-history-{uuid.uuid4().hex[:6]}"
    reference = FraudSimulator(model_id=model).reference()
    counts = {name: tuple(f.counts) for name, f in reference.features.items()}
    rng = np.random.default_rng(3)
    first = int(EPOCH.timestamp()) // WINDOW_SECONDS
    started = time.perf_counter()
    for w in range(first, first + windows):
        closed = results(counts, rng, 1000)
        start, end = float(w * WINDOW_SECONDS), float((w + 1) * WINDOW_SECONDS)
        await store.close_window(model, WindowClose(w, end, {}, latest_statistics(w, end, closed),
                                                    point=window_point(w, start, end, closed), history_windows=windows))
    close_ms = (time.perf_counter() - started) / windows * 1000
    history = RedisHistory(store.redis, keep_events=n_alerts)
    for i in range(n_alerts):
        end = datetime.fromtimestamp((first + i + 1) * WINDOW_SECONDS, UTC)
        alert = DriftAlert(alert_id=f"{i:064x}", model_id=model, feature=list(counts)[i % len(counts)],
                           detector="psi", statistic=0.31, threshold=0.2, severity="critical",
                           state="firing" if i % 2 == 0 else "resolved",
                           window=TimeWindow(start=end, end=end),
                           reference_version=reference.version, n_reference=20_000, n_current=1000)
        await history.record_alert(alert, alert.model_dump_json().encode())
    usage = store.redis.memory_usage
    window_bytes = int(await usage(keys.window_history(model), samples=0) or 0)
    alert_bytes = int(await usage(keys.alert_history(model), samples=0) or 0)
    kept = await store.redis.xlen(keys.window_history(model))
    await store.redis.delete(*[k async for k in store.redis.scan_iter(match=f"dl:{{{model}}}:*")])
    await store.close()
    per_feature = window_bytes / len(counts) / kept * 1000
    return {"windows": kept, "features": len(counts), "history_bytes": window_bytes,
            "kb_per_model_feature_per_1000_windows": round(per_feature / 1024, 1),
            "kb_per_1000_alerts": round(alert_bytes / n_alerts * 1000 / 1024, 1),
            "close_window_ms": round(close_ms, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=1000)
    parser.add_argument("--alerts", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(on_redis(lambda url: run(url, args.windows, args.alerts))))

if __name__ == "__main__":
    main()
