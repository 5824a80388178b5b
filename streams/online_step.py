"""Online detectors (ADWIN, Page-Hinkley, KSWIN) on a model's score or feature streams, per partition.

For each (model, partition) batch the processor hands over, every real-valued
online detector of the model's spec continues from its stored state, sees the
batch's values in offset order, and its new state goes into the batch, so the
same Lua call that applies the batch's counts stores it, under the same
watermark: a replayed batch starts from the same state, detects the same
changes and publishes the same alert ids. The alerts are returned to be
published *before* that call (a crash in between republishes them).

One detector per partition: a model keyed by ``model_id`` (the default) lives on
one partition, so it has one. A model spread over partitions gets one per
partition, each alerting on its own share of the stream (issue 8's hot models).
"""

from __future__ import annotations

import json
import logging
import zlib
from datetime import UTC, datetime

from driftline.config.events import PREDICTION_FEATURE, DriftAlert, TimeWindow
from driftline.config.monitor_spec import OnlineDetectorSpec
from driftline.detectors.ids import alert_id
from driftline.detectors.online import make_detector
from driftline.detectors.online.base import OnlineDetector
from driftline.detectors.online.errors import StateError
from driftline.detectors.online_watch import StreamWatch, Transition, watch
from driftline.streams.batch import ModelBatch
from driftline.streams.monitors import ModelMonitor
from driftline.streams.sketch_store import SketchStore

log = logging.getLogger(__name__)


class OnlineStep:
    """Runs a batch through its model's online detectors.

    >>> OnlineStep.state_fields(2, 3)
    ('2:3', '2:3:watch')
    """

    def __init__(self, store: SketchStore) -> None:
        self._store = store

    @staticmethod
    def state_fields(index: int, partition: int) -> tuple[str, str]:
        return f"{index}:{partition}", f"{index}:{partition}:watch"

    async def run(self, monitor: ModelMonitor, batch: ModelBatch) -> list[DriftAlert]:
        """Fill ``batch.online_states``; return the alerts to publish before the batch is applied."""
        if not batch.online_values:
            return []
        fields = [f for index in batch.online_values for f in self.state_fields(index, batch.partition)]
        stored = await self._store.online_states(monitor.model_id, fields)
        alerts: list[DriftAlert] = []
        for index, (values, times) in batch.online_values.items():
            spec = monitor.spec.online[index]
            state_field, watch_field = self.state_fields(index, batch.partition)
            detector = restore_detector(spec, stored.get(state_field), f"{monitor.model_id}:{state_field}")
            state = StreamWatch.from_dict(json.loads(stored[watch_field])) if watch_field in stored else StreamWatch()
            if values.size:
                state, transitions = watch(detector, state, values, times, resolve_after=spec.resolve_after)
                feature = spec.feature or PREDICTION_FEATURE
                alerts += [online_alert(monitor.model_id, monitor.reference.version, feature, spec, batch.partition, t)
                           for t in transitions]
            batch.online_states[state_field] = detector.to_bytes()
            batch.online_states[watch_field] = json.dumps(state.to_dict()).encode()
        return alerts


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


def online_alert(
    model_id: str, version: str, feature: str, spec: OnlineDetectorSpec, partition: int, transition: Transition
) -> DriftAlert:
    """The alert of an online detector's transition; its id names the partition, so detectors of one
    model on different partitions never share ids, and a replay on the same one gives the same id."""
    start = datetime.fromtimestamp(transition.start, tz=UTC)
    end = datetime.fromtimestamp(transition.end, tz=UTC)
    names = ("threshold", "drift_threshold", "delta", "alpha")
    threshold = next((float(spec.params[p]) for p in names if p in spec.params), 0.0)
    return DriftAlert(
        alert_id=alert_id(
            model_id=model_id, feature=f"{feature}@{partition}", detector=spec.detector,
            window_start=start, window_end=end, state=f"{transition.state}:critical", reference_version=version,
        ),
        model_id=model_id,
        feature=feature,
        detector=spec.detector,
        statistic=transition.statistic,
        threshold=threshold,
        severity="critical",
        state=transition.state,
        window=TimeWindow(start=start, end=end),
        reference_version=version,
        n_reference=0,
        n_current=transition.n_values,
    )
