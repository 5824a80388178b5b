"""Nasty input through Kafka: every bad message lands in the dead-letter topic with a reason and its
original bytes, the worker keeps running, and the valid events around them are counted exactly."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import orjson
import pytest

from driftline.config.events import DeadLetter
from driftline.config.settings import Settings
from driftline.streams.app.topics import ensure_topics
from driftline.streams.ingest.decode import decode
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.simulate import FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.kafka import Message, produce, read_topic
from ..support.waiting import wait_counted

pytestmark = pytest.mark.integration

MAX_EVENT_BYTES = 100_000


def corpus(model: str, valid: dict[str, object]) -> list[bytes | None]:
    def with_(**fields: object) -> bytes:
        return orjson.dumps({**valid, **fields})

    event = orjson.dumps(valid)
    return [
        None,  # a tombstone
        b"",
        b"not json at all",
        b'{"model_id": "\xff\xfe", "features": {}}',  # invalid UTF-8
        b"[" * 200_000 + b"]" * 200_000,  # nested deep enough to crash a recursive parser
        b'{"model_id": "m", "features": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        event.replace(b'"features":{', b'"features":{"huge":1e400,'),
        event.replace(b'"features":{', b'"features":{"nan":NaN,'),
        event.replace(b'"features":{', b'"features":{"inf":Infinity,'),
        with_(features=[1, 2, 3]),
        with_(features={"amount": {"nested": 1}}),
        with_(ts="yesterday"),
        with_(model_id=42),
        with_(model_id="a{b}"),  # would break the Redis hash tag
        with_(prediction=None),
        orjson.dumps({k: v for k, v in valid.items() if k != "prediction_id"}),
        with_(model_id=f"{model}-unknown"),
        with_(segment={"region": 7}),
        with_(padding="x" * (MAX_EVENT_BYTES + 10)),  # over the size limit
        b'"just a string"',
        b"null",
        b"[]",
    ]


async def test_every_bad_message_is_dead_lettered_and_the_good_ones_counted(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLINE_MAX_EVENT_BYTES", str(MAX_EVENT_BYTES))
    sim = FraudSimulator(model_id=f"bad-{settings.app_id[-8:]}", seed=13)
    await ensure_topics(settings)
    store = RedisWindowStore.from_settings(settings.redis)
    await store.put_reference(sim.reference())
    events = [*sim.events(window=0, n=400), *sim.events(window=1, n=400), *sim.events(window=2, n=10)]
    bad = corpus(sim.model_id, events[0])
    messages: list[Message] = []
    for i, event in enumerate(events):  # every bad message between two good ones, on the model's partition
        messages.append(event)
        if i % 30 == 0 and i // 30 < len(bad):
            messages.append(bad[i // 30])
    await produce(settings, messages, key=sim.model_id, max_request_size=2_000_000)
    assert len(events) // 30 >= len(bad)
    try:
        with WorkerProcess(settings, log_path=tmp_path / "worker.log") as worker:
            counted = await wait_counted(store, sim.model_id, 3, len(events))
            assert worker.alive(), worker.log_tail()
            letters = [decode(v, DeadLetter, max_bytes=10**7)
                       for v in await read_topic(settings, settings.topics.deadletter, len(bad))]
            assert worker.alive(), worker.log_tail()
    finally:
        await store.close()
    assert counted == len(events)  # the valid events, exactly once
    assert len(letters) == len(bad)
    originals = {hashlib.sha256(b or b"").hexdigest(): b or b"" for b in bad}
    hashes = sorted(hashlib.sha256(b or b"").hexdigest() for b in bad)
    assert sorted(d.payload_sha256 or "" for d in letters) == hashes  # each bad message, once
    for d in letters:  # whole, or (over 256 KiB: the 400 KB nesting) its first 4 KiB
        original = originals[d.payload_sha256 or ""]
        assert base64.b64decode(d.payload_b64) == (original[:4096] if d.payload_truncated else original)
        assert d.payload_bytes == len(original) and d.payload_truncated == (len(original) > 256 * 1024)
    assert all(d.reason for d in letters)
    reasons = [d.reason for d in letters]
    assert "JSON nested deeper than 64 levels" in reasons
    assert any("unknown model" in r for r in reasons) and any("over the" in r for r in reasons)
