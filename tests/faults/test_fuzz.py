"""Bad input through Kafka: hypothesis-made messages and a corpus of nasty ones (10 MB, invalid UTF-8,
deep nesting, huge numbers, NaN, wrong types, missing fields, unknown model, empty) between valid events.
Every message has exactly one outcome — counted once, or dead-lettered once with a reason — and the
worker keeps running."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import orjson
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from driftline.config.events import DeadLetter
from driftline.config.settings import Settings
from driftline.streams.app.metrics import reason_class
from driftline.streams.ingest.decode import decode
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.oracle import counted, read_all
from driftline.streams.testing.simulate import FraudSimulator
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.kafka import Message, produce
from ..support.waiting import wait_until
from .conftest import WORKLOAD

MODEL = f"{WORKLOAD.prefix}-1"
SIM = FraudSimulator(model_id=MODEL, seed=101)
VALID = list(SIM.events(window=0, n=400)) + list(SIM.events(window=1, n=400)) + list(SIM.events(window=2, n=5))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@st.composite
def broken_events(draw: st.DrawFn) -> bytes:
    """A valid event with one field replaced, removed or added, or bytes that are not an event at all."""
    event = dict(VALID[draw(st.integers(0, len(VALID) - 1))])
    choice = draw(st.sampled_from(["replace", "remove", "feature", "bytes", "json"]))
    if choice == "bytes":
        return draw(st.binary(max_size=300))
    if choice == "json":
        return _dumps(draw(json_values))
    name = draw(st.sampled_from(sorted(event)))
    if choice == "remove":
        event.pop(name)
    elif choice == "replace":
        event[name] = draw(json_values)
    else:
        event["features"] = {**event["features"], draw(st.sampled_from(["amount", "channel", "x"])): draw(json_values)}
    return _dumps(event)


def _dumps(value: object) -> bytes:
    """The stdlib encoder: it writes integers of any size (orjson refuses beyond 64 bits), and lone
    surrogates in drawn text come out as invalid UTF-8, bad input worth having."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def corpus() -> list[bytes | None]:
    event = orjson.dumps(VALID[0])
    return [
        None, b"", b"\xff\xfe\xfd", b'{"model_id": "\xff\xfe", "features": {}}',
        b"[" * 200_000 + b"]" * 200_000, event.replace(b'"features":{', b'"features":{"huge":1e400,'),
        event.replace(b'"features":{', b'"features":{"n":NaN,'),
        event.replace(b'"features":{', b'"features":{"i":-Infinity,'),
        _dumps({**VALID[0], "ts": 10**30}), orjson.dumps({**VALID[0], "model_id": f"{MODEL}-unknown"}),
        orjson.dumps({**VALID[0], "prediction_id": 12}), orjson.dumps({k: v for k, v in VALID[0].items() if k != "ts"}),
        b'{"model_id": "' + b"m" * 10_000_000 + b'"}',  # 10 MB
        event + b"trailing", b"null", b"0",
    ]


@seed(20261123)
# One example, never shrunk: the fixtures (a stack, a topic) live for the whole test, so a second example
# would run on the first one's messages and only hide the real failure behind a meaningless shrunk one.
@hypothesis_settings(max_examples=1, deadline=None, database=None, phases=[Phase.generate],
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                            HealthCheck.data_too_large])
@given(fuzz=st.lists(broken_events(), min_size=300, max_size=300))
async def test_every_message_is_counted_once_or_dead_lettered_once(
    fuzz: list[bytes], settings: Settings, store: RedisWindowStore, tmp_path: Path
) -> None:
    bad = corpus() + fuzz
    sent = await _interleave(settings, bad)
    with WorkerProcess(settings, log_path=tmp_path / "worker.log", loglevel="warning") as worker:
        async def settled() -> bool:
            assert worker.alive(), worker.log_tail()
            letters = await read_all(settings, settings.topics.deadletter)
            return len(letters) + (await counted(store, WORKLOAD)).events >= sent

        await wait_until(settled, 120, "every message to be counted or dead-lettered", every=0.1)
        letters = [decode(v, DeadLetter, max_bytes=10**7) for v in await read_all(settings, settings.topics.deadletter)]
        now = await counted(store, WORKLOAD)
        assert worker.alive(), worker.log_tail()
    positions = [(d.partition, d.offset) for d in letters]
    assert len(set(positions)) == len(positions)  # no message dead-lettered twice
    assert now.events + len(letters) == sent  # each message one outcome
    assert now.events >= len(VALID)  # the valid events around the bad ones are all counted
    assert all(d.reason for d in letters)
    assert not [d.reason for d in letters if reason_class(d.reason) == "other"]  # each in a metrics class
    huge = [d for d in letters if d.payload_bytes and d.payload_bytes > 10_000_000]
    assert len(huge) == 1 and huge[0].payload_truncated and "over the" in huge[0].reason
    for d in letters:  # the letter identifies the original: whole, or its prefix and hash
        original = bad_by_hash(bad)[d.payload_sha256]
        assert base64.b64decode(d.payload_b64) == (original[:4096] if d.payload_truncated else original)


def bad_by_hash(bad: list[bytes | None]) -> dict[str | None, bytes]:
    return {hashlib.sha256(b or b"").hexdigest(): b or b"" for b in bad}


async def _interleave(settings: Settings, bad: list[bytes | None]) -> int:
    """Valid events with a bad message after every second one, all on the model's partition."""
    queue: list[bytes | None] = list(bad)
    messages: list[Message] = []
    for i, event in enumerate(VALID):
        messages.append(event)
        if i % 2 == 0 and queue:
            messages.append(queue.pop())
    assert not queue
    return await produce(settings, messages, key=MODEL, max_request_size=12_000_000)
