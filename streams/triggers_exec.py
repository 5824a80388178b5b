"""``driftline triggers exec -- CMD ...``: run a command once per retrain trigger.

Follows the retrain topic in its own consumer group and, for each RetrainTrigger,
runs ``CMD`` with the trigger's JSON on stdin (and ``DRIFTLINE_TRIGGER_ID`` /
``DRIFTLINE_MODEL_ID`` in its environment). The offset is committed only after
the command exited 0 and the trigger id was recorded as done in Redis for this
consumer group; a trigger the group already ran (a republished one, or a replay)
is skipped. A command that keeps failing stops the runner with a non-zero exit,
uncommitted, so the next run retries it. A stop request (SIGTERM, SIGINT) is
honoured between triggers and between attempts, never by killing the command.
See docs/triggers.md for the guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from driftline.config.events import RetrainTrigger
from driftline.config.settings import Settings
from driftline.streams import keys
from driftline.streams.codec import InvalidEvent, decode
from driftline.streams.kafka_client import client_options

log = logging.getLogger(__name__)

DONE_TTL_SECONDS = 90 * 86_400


class TriggerRunner:
    """Runs ``command`` once per trigger id and consumer group; :meth:`run` returns the process exit code.

    0 when stopped, 1 when a trigger's command failed every attempt (that trigger left uncommitted).
    Groups are independent: each has its own offsets and its own record of the triggers it ran.

    >>> from driftline.config.settings import load_settings
    >>> runner = TriggerRunner(load_settings(app_id="shop"), ["./retrain.sh"], retry_delay=2.0)
    >>> runner.group, [runner.retry_delay_after(attempt) for attempt in range(3)]
    ('shop.triggers-exec', [2.0, 4.0, 8.0])
    >>> runner.done_key("fraud")
    'dl:{fraud}:triggers:done:shop.triggers-exec'
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
        max_poll_interval_ms: int = 300_000,
    ) -> None:
        if not command:
            raise ValueError("no command: driftline triggers exec -- CMD [ARGS...]")
        self._settings = settings
        self._command = list(command)
        self._group = group or f"{settings.app_id}.triggers-exec"
        self._retries = retries
        self._retry_delay = retry_delay
        self._out = out
        self._max_poll_interval_ms = max_poll_interval_ms
        self._stop = asyncio.Event()

    @property
    def group(self) -> str:
        """The consumer group: its committed offsets and its done set are this runner's progress."""
        return self._group

    def done_key(self, model_id: str) -> str:
        """The Redis set of the trigger ids of ``model_id`` this group has run."""
        return keys.executed_triggers_for(model_id, self._group)

    def retry_delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (0-based): doubling, at most 5 minutes."""
        return float(min(self._retry_delay * 2**attempt, 300.0))

    def stop(self) -> None:
        """Finish the trigger in hand (its command is not interrupted), then return."""
        self._stop.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        consumer = AIOKafkaConsumer(
            self._settings.topics.retrain, **client_options(self._settings), group_id=self._group,
            enable_auto_commit=False, auto_offset_reset="earliest", max_poll_interval_ms=self._max_poll_interval_ms,
        )
        client = aioredis.Redis.from_url(self._settings.redis.url.get_secret_value())
        await consumer.start()
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=500)
                for tp, messages in batches.items():
                    for message in messages:
                        handled = await self._handle(client, tp, message.offset, message.value)
                        if not handled:
                            return 0 if handled is None else 1
                        await self._commit(consumer, tp, message.offset + 1)
                        if self._stop.is_set():
                            return 0
            return 0
        finally:
            await consumer.stop()
            await client.aclose()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    async def _handle(
        self, client: aioredis.Redis, tp: TopicPartition, offset: int, value: bytes | None
    ) -> bool | None:
        """True when the message is done with (ran, skipped, or unreadable); False when its command failed
        every attempt, None when stopped before it succeeded: both stop the runner, uncommitted."""
        try:
            trigger = decode(value, RetrainTrigger, max_bytes=self._settings.max_event_bytes)
        except InvalidEvent as exc:
            self._say(f"skipping an unreadable trigger at {tp.topic}[{tp.partition}]@{offset}: {exc.reason}")
            return True
        done = self.done_key(trigger.model_id)
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
            if attempt < self._retries and not self._stop.is_set():
                delay = self.retry_delay_after(attempt)
                self._say(f"trigger {trigger.trigger_id}: command exited {code}; retrying in {delay:g}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
            if self._stop.is_set():
                # Ctrl-C reaches the command too: a failure now is no reason to retry, nor to exit 1.
                self._say(f"trigger {trigger.trigger_id}: stopping before it succeeded; not committed, "
                          "the next run retries it")
                return None
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

    async def _commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        try:
            await consumer.commit({tp: offset})
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced while the command ran (a command longer than the consumer's
            # max_poll_interval_ms does that). The trigger is in the done set, so whichever runner
            # gets the partition now skips it instead of running it again.
            self._say(f"offset {offset} of {tp.topic}[{tp.partition}] not committed ({exc}); "
                      "the trigger is recorded as done and will be skipped when read again")

    def _say(self, line: str) -> None:
        print(line, file=self._out, flush=True)
