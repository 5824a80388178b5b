"""``driftline triggers exec -- CMD ...``: run a command once per retrain trigger.

Follows the retrain topic in its own consumer group and, for each RetrainTrigger,
runs ``CMD`` with the trigger's JSON on stdin (and ``DRIFTLINE_TRIGGER_ID`` /
``DRIFTLINE_MODEL_ID`` in its environment). The offset is committed only after
the command exited 0 and the trigger id was recorded as done in Redis; a trigger
already done (a republished one, or a replay) is skipped. A command that keeps
failing stops the runner with a non-zero exit, uncommitted, so the next run
retries it. See docs/triggers.md for the guarantees.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition

from driftline.config.events import RetrainTrigger
from driftline.config.settings import Settings
from driftline.streams import keys
from driftline.streams.codec import InvalidEvent, decode
from driftline.streams.kafka_client import client_options

log = logging.getLogger(__name__)

DONE_TTL_SECONDS = 90 * 86_400


class TriggerRunner:
    """Runs ``command`` once per trigger; :meth:`run` returns the process exit code.

    >>> TriggerRunner.__name__
    'TriggerRunner'
    """

    def __init__(
        self,
        settings: Settings,
        command: Sequence[str],
        *,
        group: str | None = None,
        retries: int = 3,
        retry_delay: float = 1.0,
        out: TextIO = sys.stdout,
    ) -> None:
        if not command:
            raise ValueError("no command: driftline triggers exec -- CMD [ARGS...]")
        self._settings = settings
        self._command = list(command)
        self._group = group or f"{settings.app_id}.triggers-exec"
        self._retries = retries
        self._retry_delay = retry_delay
        self._out = out
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Finish the trigger in hand (its command is not interrupted), then return."""
        self._stop.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        consumer = AIOKafkaConsumer(
            self._settings.topics.retrain, **client_options(self._settings), group_id=self._group,
            enable_auto_commit=False, auto_offset_reset="earliest",
        )
        client = aioredis.Redis.from_url(self._settings.redis.url.get_secret_value())
        await consumer.start()
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=500)
                for tp, messages in batches.items():
                    for message in messages:
                        if not await self._handle(client, tp, message.offset, message.value):
                            return 1
                        await consumer.commit({tp: message.offset + 1})
                        if self._stop.is_set():
                            return 0
            return 0
        finally:
            await consumer.stop()
            await client.aclose()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    async def _handle(self, client: aioredis.Redis, tp: TopicPartition, offset: int, value: bytes | None) -> bool:
        """True when the message is done with (ran, skipped, or unreadable); False to stop uncommitted."""
        try:
            trigger = decode(value, RetrainTrigger, max_bytes=self._settings.max_event_bytes)
        except InvalidEvent as exc:
            self._say(f"skipping an unreadable trigger at {tp.topic}[{tp.partition}]@{offset}: {exc.reason}")
            return True
        done = keys.executed_triggers(trigger.model_id)
        if await client.sismember(done, trigger.trigger_id):
            self._say(f"trigger {trigger.trigger_id} for {trigger.model_id} already ran; skipped")
            return True
        for attempt in range(self._retries + 1):
            code = await self._execute(trigger, value or b"")
            if code == 0:
                async with client.pipeline(transaction=True) as pipe:
                    pipe.sadd(done, trigger.trigger_id)
                    pipe.expire(done, DONE_TTL_SECONDS)
                    await pipe.execute()
                self._say(f"trigger {trigger.trigger_id} for {trigger.model_id} ({trigger.policy}): command succeeded")
                return True
            if attempt < self._retries:
                delay = self._retry_delay * 2**attempt
                self._say(f"trigger {trigger.trigger_id}: command exited {code}; retrying in {delay:.0f}s")
                await asyncio.sleep(delay)
        self._say(f"trigger {trigger.trigger_id}: command failed {self._retries + 1} times; stopping without "
                  "committing, so the next run retries it")
        return False

    async def _execute(self, trigger: RetrainTrigger, payload: bytes) -> int:
        env = {**os.environ, "DRIFTLINE_TRIGGER_ID": trigger.trigger_id, "DRIFTLINE_MODEL_ID": trigger.model_id}
        try:
            process = await asyncio.create_subprocess_exec(*self._command, stdin=asyncio.subprocess.PIPE, env=env)
        except OSError as exc:
            self._say(f"cannot run {self._command[0]!r}: {exc.strerror}")
            return 127
        await process.communicate(payload)
        return int(process.returncode or 0)

    def _say(self, line: str) -> None:
        print(line, file=self._out, flush=True)
