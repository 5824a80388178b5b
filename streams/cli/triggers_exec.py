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

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from driftline.config import RetrainTrigger, Settings
from driftline.streams.app.kafka import kafka_options
from driftline.streams.ingest import InvalidEvent, decode
from driftline.streams.state import RedisState, TriggerLease

log = logging.getLogger(__name__)

DONE_TTL_SECONDS = 90 * 86_400
WAIT_POLL_SECONDS = 1.0


class TriggerRunner:
    """Runs ``command`` once per trigger id and consumer group; :meth:`run` returns the process exit code.

    0 when stopped, 1 when a trigger's command failed every attempt (that trigger left uncommitted).
    Groups are independent: each has its own offsets and its own record of the triggers it ran.

    >>> from driftline.config.settings import load_settings
    >>> runner = TriggerRunner(load_settings(app_id="shop"), ["./retrain.sh"], retry_delay=2.0)
    >>> runner.group, [runner.retry_delay_after(attempt) for attempt in range(3)]
    ('shop.triggers-exec', [2.0, 4.0, 8.0])
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
        max_poll_interval_ms: int = 86_400_000,
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
            self._settings.topics.retrain, **kafka_options(self._settings.kafka), group_id=self._group,
            enable_auto_commit=False, auto_offset_reset="earliest", max_poll_interval_ms=self._max_poll_interval_ms,
        )
        state = RedisState.from_settings(self._settings.redis)
        await consumer.start()
        try:
            while not self._stop.is_set():
                batches = await consumer.getmany(timeout_ms=500)
                messages = [(tp, m) for tp, ms in batches.items() for m in ms]
                for tp, message in messages:
                    handled = await self._handle(state, tp, message.offset, message.value)
                    if not handled:
                        return 0 if handled is None else 1
                    if self._stop.is_set():
                        await self._commit(consumer, tp, message.offset + 1)
                        return 0
                    if not await self._commit(consumer, tp, message.offset + 1):
                        break  # the rest of this batch may belong to another runner now: fetch anew
            return 0
        finally:
            await consumer.stop()
            await state.aclose()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    async def _handle(
        self, state: RedisState, tp: TopicPartition, offset: int, value: bytes | None
    ) -> bool | None:
        """True when the message is done with (ran, skipped, or unreadable); False when its command failed
        every attempt, None when stopped before it succeeded: both stop the runner, uncommitted."""
        try:
            trigger = decode(value, RetrainTrigger, max_bytes=self._settings.max_event_bytes)
        except InvalidEvent as exc:
            self._say(f"skipping an unreadable trigger at {tp.topic}[{tp.partition}]@{offset}: {exc.reason}")
            return True
        lease = state.trigger_lease(trigger.model_id, self._group, trigger.trigger_id)
        said_waiting = False
        while True:
            # The lease first, then the done set: a runner that finished just before is seen as done.
            acquired = await lease.acquire()
            if await lease.done():
                if acquired:
                    await lease.release()
                self._say(f"trigger {trigger.trigger_id} for {trigger.model_id} already ran; skipped")
                return True
            if acquired:
                break
            if not said_waiting:
                self._say(f"trigger {trigger.trigger_id}: another runner of group {self._group} is running it; "
                          "waiting for it to finish")
                said_waiting = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), WAIT_POLL_SECONDS)
            if self._stop.is_set():
                return None
        try:
            return await self._attempts(trigger, value or b"", lease)
        except BaseException:
            await asyncio.shield(lease.release())
            raise

    async def _attempts(self, trigger: RetrainTrigger, payload: bytes, lease: TriggerLease) -> bool | None:
        """Run the command until it succeeds, the attempts run out, or a stop; the lease is held throughout."""
        for attempt in range(self._retries + 1):
            code = await self._execute(trigger, payload)
            if code == 0:
                await lease.finish(DONE_TTL_SECONDS)
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
                await lease.release()
                return None
        self._say(f"trigger {trigger.trigger_id}: command failed {self._retries + 1} times; stopping without "
                  "committing, so the next run retries it")
        await lease.release()
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

    async def _commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> bool:
        """False when the group rebalanced under us (while the command ran): the trigger is in the done
        set, so whichever runner reads it again skips it."""
        try:
            await consumer.commit({tp: offset})
        except (CommitFailedError, IllegalStateError) as exc:
            self._say(f"offset {offset} of {tp.topic}[{tp.partition}] not committed ({exc}); "
                      "the trigger is recorded as done and will be skipped when read again")
            return False
        return True

    def _say(self, line: str) -> None:
        print(line, file=self._out, flush=True)
