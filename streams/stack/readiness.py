"""What "Kafka is ready" means here, and how to wait for it from sync code.

An open port is not ready: the listener opens before the controller has
elected itself, and the offsets topic (needed by every consumer group) is
created lazily. Ready means: metadata answers, a probe topic can be created
and deleted (error codes checked: aiokafka's admin returns them instead of
raising), and a group coordinator can be found.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from driftline.streams.stack.errors import KafkaBrokerError

log = logging.getLogger(__name__)

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` that also works when the caller is inside a running loop (a thread of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def wait_kafka_ready(
    bootstrap: str, alive: Callable[[], bool], deadline: float, kafka_options: Mapping[str, Any] | None = None
) -> None:
    """Return when the broker at ``bootstrap`` is ready; KafkaBrokerError when ``alive()`` turns false or time is up.

    ``kafka_options``: aiokafka options beside the address (SASL_SSL for the secure stack).
    """
    host, _, port = bootstrap.rpartition(":")
    last: BaseException | None = None
    while time.monotonic() < deadline:
        if not alive():
            raise KafkaBrokerError("the broker process exited")
        if not await _port_open(host, int(port)):
            await asyncio.sleep(0.2)
            continue
        try:
            await _probe(bootstrap, kafka_options or {})
            return
        except Exception as exc:  # noqa: BLE001 — not ready yet, whatever the reason; reported at the deadline
            last = exc
            log.debug("Kafka at %s not ready yet: %r", bootstrap, exc)
        await asyncio.sleep(0.3)
    raise KafkaBrokerError(f"last probe error: {last!r}")


async def _probe(bootstrap: str, kafka_options: Mapping[str, Any]) -> None:
    topic = f"driftline-ready-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(**{**kafka_options, "bootstrap_servers": bootstrap, "request_timeout_ms": 5000})
    try:
        await admin.start()
        await admin.describe_cluster()
        created = await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        _check(created.topic_errors, "create")
        deleted = await admin.delete_topics([topic])
        _check(deleted.topic_error_codes, "delete")
        await admin.find_coordinator(f"driftline-ready-{uuid.uuid4().hex[:8]}")
    finally:
        await admin.close()


def _check(per_topic: list[tuple[Any, ...]], action: str) -> None:
    for entry in per_topic:
        name, code = entry[0], entry[1]
        if code != 0:
            raise KafkaBrokerError(f"{action} {name}: error code {code} {entry[2:]}")


async def _port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True
