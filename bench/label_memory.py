"""Redis memory of the label join: bytes per kept prediction and per waiting label, on a redis-server of its own
(or ``DRIFTLINE_REDIS_URL``).

    python bench/label_memory.py [--predictions 1000000] [--labels 200000]

Predictions are kept as the prediction path keeps them (UUID ids, a score, its event time, no segment), through
the window store's apply; labels wait as the label path leaves them. Prints one JSON line: bytes each, and MB
per million.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

import numpy as np
from local_redis import on_redis  # bench/local_redis.py, beside this script

from driftline.streams.pipeline.joins import waiting_label
from driftline.streams.state import ApplyResult, LabelBatch, ModelBatch, PendingLabel, stored_prediction
from driftline.streams.state.labels import RedisLabelStore
from driftline.streams.state.windows import RedisWindowStore

BATCH = 5000
DAY = 86_400


async def used_memory(store: RedisWindowStore) -> int:
    info = await store.redis.info("memory")
    return int(info["used_memory"])


async def run(url: str, n_predictions: int, n_labels: int) -> dict[str, float]:
    store = RedisWindowStore.from_url(url)
    labels = RedisLabelStore(store.redis)
    rng = np.random.default_rng(0)
    now = time.time()
    try:
        await store.redis.flushdb()
        before = await used_memory(store)
        for k, start in enumerate(range(0, n_predictions, BATCH)):
            n = min(BATCH, n_predictions - start)
            kept_batch = ModelBatch("bench", 0, start, start + n - 1, now, {0: {"__n__": n}})
            kept_batch.keep_predictions_seconds, kept_batch.now = 60 * DAY, now
            kept_batch.predicted = {k: n}
            scores = rng.uniform(size=n)
            day = {str(uuid.uuid4()): stored_prediction(round(float(x), 6), now, None) for x in scores}
            kept_batch.predictions = {int(now // DAY): day}
            await store.apply(kept_batch)
        kept = await used_memory(store)
        _, days = await labels.find_predictions("bench", [], now)
        for start in range(0, n_labels, BATCH):
            n = min(BATCH, n_labels - start)
            pending = [PendingLabel(str(uuid.uuid4()), waiting_label(1, now, 0, start + i), now + 60 * DAY)
                       for i in range(n)]
            batch = LabelBatch("bench", 0, start, start + n - 1, pending=pending, days=days, now=now,
                               max_pending=n_labels + 1, retention_seconds=60 * DAY)
            result = await labels.apply(batch)
            assert result is ApplyResult.APPLIED, result
        waiting = await used_memory(store)
    finally:
        await store.close()
    per_prediction = (kept - before) / n_predictions
    per_label = (waiting - kept) / n_labels if n_labels else 0.0
    return {"predictions": n_predictions, "bytes_per_kept_prediction": round(per_prediction, 1),
            "mb_per_million_predictions": round(per_prediction, 1), "labels": n_labels,
            "bytes_per_waiting_label": round(per_label, 1), "mb_per_million_waiting_labels": round(per_label, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--labels", type=int, default=200_000)
    args = parser.parse_args()
    print(json.dumps(on_redis(lambda url: run(url, args.predictions, args.labels))))

if __name__ == "__main__":
    main()
