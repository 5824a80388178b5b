"""Everything the pipeline publishes, typed: encode, send, wait for the broker's ack, then record it.

``Send`` is the one thing this needs from Kafka (the app gives it faust's producer; a test a list).
After the ack, each message is handed to the recorders (the worker's metrics and the model's
history) as the value it is and the bytes that were sent: nothing is decoded again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from driftline.config import DeadLetter, DriftAlert, RetrainTrigger, TopicSettings
from driftline.detectors import ModelReference
from driftline.streams.ingest.decode import encode

log = logging.getLogger(__name__)

Send = Callable[[str, bytes, bytes], Awaitable[None]]
"""``send(topic, key, value)``: returns once the broker has acknowledged the message."""


class OutputRecorder(Protocol):
    """What happens after a message's ack (metrics, history); must not fail for the message's sake."""

    async def dead_letter(self, letter: DeadLetter) -> None: ...
    async def alert(self, alert: DriftAlert, value: bytes) -> None: ...
    async def trigger(self, trigger: RetrainTrigger, value: bytes) -> None: ...


class Outputs:
    """Publishes dead letters, alerts, retrain triggers and references to their topics.

    >>> sent = []
    >>> async def send(topic, key, value):
    ...     sent.append(topic)
    >>> from driftline.config.settings import TopicSettings
    >>> letter = DeadLetter(topic="t", partition=0, offset=1, reason="empty message", payload_b64="")
    >>> asyncio.run(Outputs(send, TopicSettings()).dead_letters([letter]))
    >>> sent
    ['driftline.deadletter']
    """

    def __init__(self, send: Send, topics: TopicSettings, recorders: Sequence[OutputRecorder] = ()) -> None:
        self._send = send
        self._topics = topics
        self._recorders = tuple(recorders)

    @classmethod
    def of(cls, outputs: Outputs | Send, topics: TopicSettings) -> Outputs:
        """``outputs`` itself, or a bare ``send`` (a test's recorder) made into Outputs."""
        return outputs if isinstance(outputs, Outputs) else cls(outputs, topics)

    async def dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """All at once (their order does not matter); logged once per batch with the first reason."""
        if not letters:
            return
        await asyncio.gather(*(self._send(self._topics.deadletter, d.topic.encode(), encode(d)) for d in letters))
        for letter in letters:
            for recorder in self._recorders:
                await recorder.dead_letter(letter)
        log.warning("dead-lettered %d record(s); first reason: %s", len(letters), letters[0].reason)

    async def alerts(self, alerts: Sequence[DriftAlert]) -> None:
        """One at a time: a model's alerts keep their order on its partition (a firing before its resolved)."""
        for alert in alerts:
            value = encode(alert)
            await self._send(self._topics.alerts, alert.model_id.encode(), value)
            log.info("alert %s: %s %s=%.3f", alert.state, alert.feature, alert.detector, alert.statistic)
            for recorder in self._recorders:
                await recorder.alert(alert, value)

    async def trigger(self, trigger: RetrainTrigger) -> None:
        value = encode(trigger)
        await self._send(self._topics.retrain, trigger.model_id.encode(), value)
        log.info("retrain trigger %s for %s: %s", trigger.trigger_id, trigger.model_id, trigger.reason)
        for recorder in self._recorders:
            await recorder.trigger(trigger, value)

    async def reference(self, reference: ModelReference) -> None:
        await self._send(self._topics.references, reference.model_id.encode(), reference.to_json())
