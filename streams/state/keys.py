"""Redis key names. Every key of a model carries the ``{model_id}`` hash tag, so
one model's keys share a Redis Cluster slot and one Lua call may touch them all.

Only ``streams/state/`` reads this module: everything else reaches state through the ports."""

from __future__ import annotations

# The day a prediction is kept under is part of the layout; the pipeline reaches it through the ports.
from driftline.streams.state.ports import PREDICTION_BUCKET_SECONDS as PREDICTION_BUCKET_SECONDS
from driftline.streams.state.ports import prediction_bucket as prediction_bucket

PREFIX = "dl"


def _tag(model_id: str) -> str:
    return f"{PREFIX}:{{{model_id}}}"


def reference(model_id: str) -> str:
    return f"{_tag(model_id)}:ref"


def reference_version(model_id: str, version: str) -> str:
    """String: one version of the model's reference, kept a while after a newer one replaced it, so a window
    binned on it is judged on it."""
    return f"{_tag(model_id)}:ref:v:{version}"


def watermarks(model_id: str) -> str:
    """Hash: Kafka partition -> last offset applied to this model's sketches."""
    return f"{_tag(model_id)}:wm"


def partition_event_times(model_id: str) -> str:
    """Hash: Kafka partition -> the largest event time (epoch seconds) applied from it for this model.

    The model's event-time horizon is the minimum over its partitions: a window closes only
    when every partition carrying the model has moved past it. A partition of the features topic is kept
    under :func:`features_partition` (negative), apart from the predictions topic's, in this hash and in
    :func:`watermarks`.
    """
    return f"{_tag(model_id)}:pts"


def features_seen(model_id: str) -> str:
    """Hash: features-topic partition (:func:`features_partition`) -> the wall-clock time (epoch seconds) of its
    last batch for this model; a partition quiet for long no longer holds the model's windows open."""
    return f"{_tag(model_id)}:fseen"


FEATURES_EXPECTED = -(1 << 31)
"""The placeholder features partition of a model whose predictions come without features, until its
FeatureEvents' own partition is known (``expect_features.lua``)."""


def features_partition(partition: int) -> int:
    """Where a features-topic partition's watermark and event time are kept: ``-1 - partition``, so the
    two input topics never share a field (both topics have a partition 0).

    >>> features_partition(0), features_partition(3)
    (-1, -4)
    """
    return -1 - partition


def open_windows(model_id: str) -> str:
    return f"{_tag(model_id)}:win:open"


def closed_windows(model_id: str) -> str:
    return f"{_tag(model_id)}:win:closed"


def closed_floor(model_id: str) -> str:
    """String: the highest window id dropped from the closed set (older ids are closed too: see close_window)."""
    return f"{_tag(model_id)}:win:floor"


def model_lease(model_id: str) -> str:
    """String with a TTL: the lease of the worker closing this model's windows now (streams/state/lease.py)."""
    return f"{_tag(model_id)}:lock"


def late_events(model_id: str) -> str:
    """Counter: events that arrived after their window had closed."""
    return f"{_tag(model_id)}:late"


def bucket_counts(model_id: str, window_id: int) -> str:
    """Hash: ``<feature>:<bin>`` -> count, plus ``__n__``, for one bucket (a tumbling window, or a sliding
    window's step), and ``__v__``: the reference version its counts are binned on (the first writer's)."""
    return f"{_tag(model_id)}:win:{window_id}"


def alert_states(model_id: str) -> str:
    """Hash: feature -> JSON of its alert policy state (streaks, firing, onset)."""
    return f"{_tag(model_id)}:alerts"


def latest(model_id: str) -> str:
    """Hash: feature -> JSON of its statistic in the last closed window (for ``driftline status``)."""
    return f"{_tag(model_id)}:latest"


def label_watermarks(model_id: str) -> str:
    """Hash: labels-topic partition -> last offset of that topic applied to this model's label state."""
    return f"{_tag(model_id)}:lwm"


def label_counts(model_id: str) -> str:
    """Hash: ``joined``, ``unmatched`` (waited their TTL for a prediction), ``dropped`` (the waiting room was
    full), ``duplicates`` (a second label for one prediction), ``errors`` (joined and wrong), and the label lag's
    ``lag:<bin>`` histogram."""
    return f"{_tag(model_id)}:labels"


def pending_labels(model_id: str) -> str:
    """Hash: prediction_id -> a label that came before its prediction (JSON: label, time, partition, offset)."""
    return f"{_tag(model_id)}:lpend"


def pending_due(model_id: str) -> str:
    """Sorted set: the waiting labels' prediction ids, scored by when they stop waiting (epoch seconds)."""
    return f"{_tag(model_id)}:lpend:due"


def prediction_days(model_id: str) -> str:
    """Sorted set: the days predictions are kept under (:func:`predictions`), scored by when that day's hash
    expires: where a label looks for its prediction, whatever its own time."""
    return f"{_tag(model_id)}:pred:days"


def performance_window(model_id: str, window_id: int) -> str:
    """Hash: the joined outcomes of the predictions made in window k (by the prediction's event time):
    :mod:`driftline.detectors.performance` counters, and ``predicted`` (predictions made in it)."""
    return f"{_tag(model_id)}:perf:{window_id}"


def performance_index(model_id: str) -> str:
    """Sorted set: the ids of the model's performance windows (score = id)."""
    return f"{_tag(model_id)}:perf:ids"


def performance_state(model_id: str) -> str:
    """String: the performance alert's state (its reference counters, the window judged last, firing)."""
    return f"{_tag(model_id)}:perf:state"


def firing_alerts(model_id: str) -> str:
    """Hash: ``feature|segment|detector`` -> the alert firing now (JSON), what the retrain policy weighs."""
    return f"{_tag(model_id)}:firing"


def retrain_state(model_id: str) -> str:
    """String: the retrain policy's state (recent trigger times, the alerts behind the last trigger)."""
    return f"{_tag(model_id)}:retrain"


def detector_states(model_id: str) -> str:
    """Hash: ``<detector index>:<partition>`` -> an online detector's state bytes, and
    ``<detector index>:<partition>:watch`` -> its alert state (JSON), written with the prediction batch's
    watermark; ``label:<index>:<partition>[:watch]`` the same for the error-stream detectors of the label path,
    written with the labels watermark."""
    return f"{_tag(model_id)}:online"


def warmup_events(model_id: str) -> str:
    """List: the first production events of a model without a reference (JSON rows of features and
    ``__prediction__``), until there are enough to build its warm-up reference."""
    return f"{_tag(model_id)}:warmup"


def predictions(model_id: str, bucket: int) -> str:
    """Hash: prediction_id -> [prediction, event time, segment] as JSON, for joining late labels.

    One hash per UTC day the predictions were stored (their records' timestamps, :func:`prediction_bucket`),
    expiring the model's retention plus a day after its last write; :func:`prediction_days` lists them.
    """
    return f"{_tag(model_id)}:pred:{bucket}"


def partition_progress(group: str) -> str:
    """Hash: ``topic:partition`` -> the next offset after the last batch whose every effect is in Redis."""
    return f"{PREFIX}:{{progress:{group}}}"


REFERENCE_PATTERN = f"{PREFIX}:{{*}}:ref"


def model_of_reference_key(key: str) -> str:
    return key[len(PREFIX) + 2 : -len("}:ref")]


def executed_triggers_for(model_id: str, group: str) -> str:
    """Set: trigger ids one ``driftline triggers exec`` consumer group has run successfully (its idempotence).

    One set per group, so each kind of job (retraining, a notification, ...) runs every trigger once.
    """
    return f"{_tag(model_id)}:triggers:done:{group}"


def running_trigger(model_id: str, group: str, trigger_id: str) -> str:
    """String with a TTL: the lease of the ``triggers exec`` runner of ``group`` running this trigger now,
    so a rebalance that hands its partition to another runner does not start the command a second time."""
    return f"{_tag(model_id)}:triggers:running:{group}:{trigger_id}"


def window_history(model_id: str) -> str:
    """Stream: one entry per closed window, id = the window's end (ms of event time); see streams/state/history.py."""
    return f"{_tag(model_id)}:hist:windows"


def alert_history(model_id: str) -> str:
    """Sorted set: the model's published alerts (JSON), scored by their window's end."""
    return f"{_tag(model_id)}:hist:alerts"


def trigger_history(model_id: str) -> str:
    """Sorted set: the model's published retrain triggers (JSON), scored by their training window's end."""
    return f"{_tag(model_id)}:hist:triggers"


def kind_of(key: str) -> str:
    """A model key's kind: its name after the hash tag, with window ids, days and group names as ``<...>``.

    >>> kind_of("dl:{fraud}:win:28512345"), kind_of("dl:{fraud}:pred:19700"), kind_of("dl:{fraud}:hist:windows")
    ('win:<id>', 'pred:<day>', 'hist:windows')
    >>> kind_of("dl:{fraud}:triggers:done:retrain"), kind_of("dl:{progress:driftline.predictions}")
    ('triggers:done:<group>', 'progress')
    >>> kind_of("dl:{fraud}:ref:v:2026.01")
    'ref:v:<version>'

    """
    if key.startswith(f"{PREFIX}:{{progress:"):
        return "progress"
    rest = key.split("}:", 1)[1] if "}:" in key else key
    parts = rest.split(":")
    if parts[0] in {"win", "perf", "pred"} and len(parts) == 2 and parts[1].lstrip("-").isdigit():
        return f"{parts[0]}:<{'day' if parts[0] == 'pred' else 'id'}>"
    if parts[:2] == ["ref", "v"] and len(parts) >= 3:
        return "ref:v:<version>"
    if parts[0] == "triggers" and len(parts) >= 3:
        return f"triggers:{parts[1]}:<group>" + (":<trigger>" if parts[1] == "running" else "")
    return rest


RETENTION: dict[str, str] = {
    "ref": "one per model",
    "ref:v:<version>": "TTL: 30 days from the version's last set",
    "wm": "one field per partition of the predictions and features topics",
    "pts": "one field per partition of the predictions and features topics (and a placeholder)",
    "fseen": "one field per partition of the features topic (and a placeholder)",
    "lwm": "one field per partition of the labels topic",
    "win:open": "the windows not closed yet (the lateness span)",
    "win:closed": "fewer than 2 x CLOSED_KEPT (256) ids; older ones are behind win:floor",
    "win:floor": "one number",
    "win:<id>": "TTL: the bucket TTL (7 days) while written, an hour once no window reads it",
    "late": "one counter",
    "alerts": "one field per monitored feature (and segment)",
    "latest": "one field per monitored feature (and segment)",
    "firing": "one field per firing alert (feature, segment, detector)",
    "retrain": "one value: the trigger times of the last day, the alert ids behind the last trigger",
    "online": "two fields per online detector and partition",
    "labels": "a few counters and the lag histogram (about 40 bins)",
    "lpend": "waiting labels: at most the spec's max_pending_labels, each until its TTL",
    "lpend:due": "one member per waiting label",
    "pred:days": "one member per kept day (the retention in days, plus two)",
    "perf:<id>": "TTL: the model's retention plus the bucket TTL",
    "perf:ids": "one member per performance window, the newest 131,072 (91 days of minute windows)",
    "perf:state": "one value",
    "pred:<day>": "TTL: the model's retention plus a day, from the day's last write",
    "warmup": "TTL, and deleted when the warm-up reference is set",
    "lock": "TTL: the lease (15 s)",
    "hist:windows": "history_windows entries (1000)",
    "hist:alerts": "history_events members (1000)",
    "hist:triggers": "history_events members (1000)",
    "triggers:done:<group>": "TTL, refreshed by every trigger the group runs",
    "triggers:running:<group>:<trigger>": "TTL: the runner's lease",
    "progress": "one per consumer group: one field per partition",
}
"""How every kind of key is bounded: by a TTL, or by construction. tests/integration/test_history.py checks
a real worker's keys against it; bench/scale.py prints the inventory of 1,000 models."""
