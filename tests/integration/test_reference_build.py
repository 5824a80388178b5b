"""`driftline reference build` reads training data and publishes the reference to Redis and the
compacted references topic; a worker would pick it up from Redis."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer

from driftline.config.settings import Settings
from driftline.detectors.reference import ModelReference
from driftline.streams.app.kafka import kafka_options
from driftline.streams.app.topics import ensure_topics
from driftline.streams.state.windows import RedisWindowStore

pytestmark = [pytest.mark.integration, pytest.mark.redis_cluster]


def env_for(settings: Settings) -> dict[str, str]:
    return {**os.environ, "DRIFTLINE_KAFKA_BOOTSTRAP": settings.kafka.bootstrap,
            "DRIFTLINE_REDIS_URL": settings.redis.url.get_secret_value(),
            "DRIFTLINE_REDIS_CLUSTER": str(settings.redis.cluster).lower(),
            "DRIFTLINE_TOPIC_REFERENCES": settings.topics.references}


async def test_reference_build_publishes_to_redis_and_the_compacted_topic(settings: Settings, tmp_path: Path) -> None:
    await ensure_topics(settings)
    data = tmp_path / "train.csv"
    rng = np.random.default_rng(0)
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "amount", "age", "channel"])
        for i in range(1000):
            writer.writerow([i, f"{rng.lognormal(3, 1):.3f}", "" if i % 50 == 0 else int(rng.integers(18, 90)),
                             rng.choice(["web", "app"])])
    model = f"ref-{settings.app_id[-8:]}"
    cmd = [sys.executable, "-m", "driftline.streams.cli.main", "reference", "build", "--model", model,
           "--data", str(data), "--exclude", "id", "--bins", "5"]
    run = {"capture_output": True, "text": True, "env": env_for(settings), "check": False, "timeout": 120}
    result = await asyncio.to_thread(subprocess.run, cmd, **run)
    assert result.returncode == 0, result.stderr
    assert "2 numeric features (5 bins each) and 1 categorical from 1000 rows" in result.stdout

    store = RedisWindowStore.from_settings(settings.redis)
    stored = await store.get_reference(model)
    await store.close()
    assert stored is not None and set(stored.features) == {"amount", "age", "channel"}
    assert stored.features["channel"].kind == "categorical" and sum(stored.features["channel"].counts) == 1000
    assert sum(stored.features["amount"].counts) == 1000 and sum(stored.features["age"].counts) == 980
    assert len(stored.features["amount"].counts) == 5

    consumer = AIOKafkaConsumer(settings.topics.references, **kafka_options(settings.kafka),
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
    finally:
        await consumer.stop()
    (message,) = [m for msgs in batch.values() for m in msgs]
    assert message.key == model.encode()
    assert ModelReference.from_json(message.value) == stored

    again = await asyncio.to_thread(subprocess.run, cmd, **run)
    assert f"version {stored.version}" in again.stdout  # same data, same version


def test_bad_data_gets_a_clear_error_and_nothing_is_published(settings: Settings, tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_text("id,channel\n1,\n2,\n")
    result = subprocess.run(
        [sys.executable, "-m", "driftline.streams.cli.main", "reference", "build", "--model", "m", "--data", str(data),
         "--exclude", "id"],
        capture_output=True, text=True, env=env_for(settings), check=False, timeout=60,
    )
    assert result.returncode == 2
    assert "no feature column" in result.stderr and str(data) in result.stderr


async def test_reference_build_with_labels_publishes_the_reference_performance(
    settings: Settings, tmp_path: Path
) -> None:
    await ensure_topics(settings)
    data = tmp_path / "validation.csv"
    rng = np.random.default_rng(1)
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["amount", "score", "is_fraud"])
        for i in range(2000):
            score = rng.uniform()
            wrong = i % 10 == 0  # 10 % wrong at 0.5
            writer.writerow([f"{rng.lognormal(3, 1):.3f}", f"{score:.4f}", int((score >= 0.5) != wrong)])
    model = f"ref-labelled-{settings.app_id[-8:]}"
    base = [sys.executable, "-m", "driftline.streams.cli.main", "reference", "build", "--model", model,
            "--data", str(data), "--prediction", "score"]
    run = {"capture_output": True, "text": True, "env": env_for(settings), "check": False, "timeout": 120}
    result = await asyncio.to_thread(subprocess.run, [*base, "--label", "is_fraud"], **run)
    assert result.returncode == 0, result.stderr
    assert "performance reference: error rate 0.100 (accuracy 0.900) from 2000 labelled rows" in result.stdout
    store = RedisWindowStore.from_settings(settings.redis)
    stored = await store.get_reference(model)
    await store.close()
    assert stored is not None and "is_fraud" not in stored.features  # the label is not a feature
    assert stored.performance is not None and (stored.performance["n"], stored.performance["err"]) == (2000, 200)

    missing = await asyncio.to_thread(subprocess.run, [*base, "--label", "nope"], **run)
    assert missing.returncode == 2 and "no column 'nope'" in missing.stderr and "Traceback" not in missing.stderr
