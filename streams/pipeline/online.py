"""Online detectors on a model's streams, per partition: ADWIN, Page-Hinkley, KSWIN on its scores or
features (the prediction path), DDM / EDDM / HDDM on its error indicators (the label path). One runner
serves both.

For each (model, partition) batch, every online detector of the stream continues from its stored
state, sees the batch's values in offset order, and its new state is returned, so the same call that
applies the batch stores it, under the same watermark: a replayed batch starts from the same state,
detects the same changes and publishes the same alert ids. The alerts are returned to be
published *before* that call (a crash in between republishes them).

One detector per partition: a model keyed by ``model_id`` (the default) lives on
one partition, so it has one. A model spread over partitions gets one per
partition, each alerting on its own share of the stream (issue 8's hot models).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np
import orjson

from driftline.config import DriftAlert, OnlineDetectorSpec
from driftline.detectors import OnlineDetector, StateError, StreamWatch, make_detector, online_alert, watch

log = logging.getLogger(__name__)

ReadStates = Callable[[str, Sequence[str]], Awaitable[dict[str, bytes]]]
"""``read(model_id, fields)``: the stored detector states among these fields."""


@dataclass(frozen=True)
class OnlineStream:
    """One detector's share of a batch: its index in the spec, the values in offset order, their event times,
    and the feature its alerts name."""

    index: int
    spec: OnlineDetectorSpec
    values: np.ndarray
    times: np.ndarray
    feature: str


class OnlineRunner:
    """Runs a batch's streams through their detectors; states are fields ``<prefix><index>:<partition>``.

    >>> OnlineRunner.state_fields(2, 3), OnlineRunner.state_fields(0, 1, "label:")
    (('2:3', '2:3:watch'), ('label:0:1', 'label:0:1:watch'))
    """

    def __init__(self, read_states: ReadStates, *, prefix: str = "") -> None:
        self._read = read_states
        self._prefix = prefix

    @staticmethod
    def state_fields(index: int, partition: int, prefix: str = "") -> tuple[str, str]:
        return f"{prefix}{index}:{partition}", f"{prefix}{index}:{partition}:watch"

    async def run(self, model_id: str, version: str, partition: int,
                  streams: Sequence[OnlineStream]) -> tuple[list[DriftAlert], dict[str, bytes]]:
        """The alerts to publish before the batch is applied, and the detector states to apply with it."""
        if not streams:
            return [], {}
        fields = [f for s in streams for f in self.state_fields(s.index, partition, self._prefix)]
        stored = await self._read(model_id, fields)
        alerts: list[DriftAlert] = []
        states: dict[str, bytes] = {}
        for stream in streams:
            state_field, watch_field = self.state_fields(stream.index, partition, self._prefix)
            detector = restore_detector(stream.spec, stored.get(state_field), f"{model_id}:{state_field}")
            state = StreamWatch.from_dict(orjson.loads(stored[watch_field])) if watch_field in stored else StreamWatch()
            if stream.values.size:
                state, transitions = watch(detector, state, stream.values, stream.times,
                                           resolve_after=stream.spec.resolve_after)
                alerts += [online_alert(model_id, version, stream.feature, stream.spec, partition, t)
                           for t in transitions]
            states[state_field] = detector.to_bytes()
            states[watch_field] = orjson.dumps(state.to_dict())
        return alerts, states


def restore_detector(spec: OnlineDetectorSpec, raw: bytes | None, where: str) -> OnlineDetector:
    """The stored detector, or a fresh one when there is none or the spec's parameters changed.

    KSWIN samples at random: unless the spec seeds it, its seed comes from ``where`` (model, detector,
    partition), so a replay of a batch before the first saved state still detects the same changes.
    """
    params = dict(spec.params)
    if spec.detector == "kswin" and "seed" not in params:
        params["seed"] = zlib.crc32(where.encode())
    if raw is not None:
        try:
            detector = OnlineDetector.from_bytes(raw)
        except StateError as exc:
            log.warning("%s: %s state unreadable (%s); starting it fresh", where, spec.detector, exc)
        else:
            if detector.name == spec.detector and detector.params == params:
                return detector
    return make_detector(spec.detector, **params)
