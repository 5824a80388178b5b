"""Prometheus metrics of a worker, served at ``/metrics`` by the faust app's own web server.

One :class:`WorkerMetrics` per app, with its own registry (no process-global
state: two apps in one process, or tests, never collide). Label values are
bounded: topics, partitions, the models and features a deployment monitors, and
dead-letter reasons reduced to a few classes. docs/metrics.md lists each metric
and what to alert on; docs/decisions/0007-metrics-endpoint.md says why faust's
web server serves them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from driftline.config import DeadLetter, DriftAlert, RetrainTrigger
from driftline.streams.state import LabelCounts

#: Every value the ``reason`` label of ``driftline_dead_lettered_total`` can take.
REASON_CLASSES = ("empty", "not_json", "too_large", "schema", "unknown_model", "clock_skew", "not_joined",
                  "not_comparable", "other")

# Matched on the start of the reason, which our code writes (streams/ingest/decode.py, batch.py, labels.py); the rest of
# a reason quotes the event (a model id, a field name) and must not decide its class.
_PREFIXES = (
    ("empty message", "empty"),
    ("message is ", "too_large"),
    ("not JSON", "not_json"),
    ("JSON nested deeper", "not_json"),
    ("expected a JSON object", "schema"),
    ("invalid ", "schema"),
    ("unknown model ", "unknown_model"),
    ("event time ", "clock_skew"),
    ("labels of model ", "not_joined"),
    ("label cannot be compared", "not_comparable"),
)


LAG_BUCKETS = (60, 600, 3600, 6 * 3600, 86_400, 3 * 86_400, 7 * 86_400, 30 * 86_400, 90 * 86_400, 365 * 86_400)
"""Label lag buckets: a minute to a year."""


def reason_class(reason: str) -> str:
    """A dead letter's reason as one of :data:`REASON_CLASSES` (a label must not take every message's text).

    >>> reason_class("not JSON: unexpected character"), reason_class("unknown model 'x': no reference ...")
    ('not_json', 'unknown_model')
    >>> reason_class("message is 2000000 bytes, over the 1000000-byte limit")
    'too_large'
    >>> reason_class("invalid PredictionEvent: features.x: bad"), reason_class("something new")
    ('schema', 'other')
    """
    for prefix, name in _PREFIXES:
        if reason.startswith(prefix):
            return name
    return "other"


class WorkerMetrics:
    """The worker's counters, gauges and histograms, in a registry of their own.

    >>> m = WorkerMetrics()
    >>> m.batch("driftline.predictions", 500, 0.02)
    >>> m.lag("driftline.predictions", 3, 120)
    >>> text = m.render().decode()
    >>> 'driftline_events_consumed_total{topic="driftline.predictions"} 500.0' in text
    True
    >>> 'driftline_consumer_lag{partition="3",topic="driftline.predictions"} 120.0' in text
    True
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._consumed = Counter("driftline_events_consumed", "Records consumed and processed, by topic",
                                 ["topic"], registry=r)
        self._dead = Counter("driftline_dead_lettered", "Records sent to the dead-letter topic, by source topic "
                             "and reason class", ["topic", "reason"], registry=r)
        self._lag = Gauge("driftline_consumer_lag", "Records between the consumer's position and the partition's "
                          "end (highwater), after the last batch", ["topic", "partition"], registry=r)
        self._latency = Histogram("driftline_batch_seconds", "Time to process and commit one batch", ["topic"],
                                  buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=r)
        self._size = Histogram("driftline_batch_records", "Records per batch", ["topic"],
                               buckets=(1, 10, 100, 500, 1000, 2500, 5000), registry=r)
        self._statistic = Gauge("driftline_window_statistic", "The statistic of the last closed window",
                                ["model", "feature", "test"], registry=r)
        self._alerts = Counter("driftline_alerts", "Alerts published", ["model", "state", "severity"], registry=r)
        self._triggers = Counter("driftline_retrain_triggers", "Retrain triggers published", ["model"], registry=r)
        self._labels = Gauge("driftline_labels", "A model's labels by state: joined, waiting (for their "
                             "prediction), overdue (waiting past their retention), unmatched (waited in vain), "
                             "dropped (the waiting room was full), duplicates", ["model", "state"], registry=r)
        self._label_lag = Histogram("driftline_label_lag_seconds", "Label time minus prediction time of the labels "
                                    "this worker joined", ["model"], buckets=LAG_BUCKETS, registry=r)
        self._completeness = Gauge("driftline_label_completeness", "The share of the newest judged performance "
                                   "window's predictions whose label has joined", ["model"], registry=r)
        self._performance = Gauge("driftline_performance", "The newest judged performance window's metric",
                                  ["model", "metric"], registry=r)

    def batch(self, topic: str, n_records: int, seconds: float) -> None:
        """One batch of ``topic`` processed and committed: its size and how long process + commit took."""
        self._consumed.labels(topic).inc(n_records)
        self._latency.labels(topic).observe(seconds)
        self._size.labels(topic).observe(n_records)

    def lag(self, topic: str, partition: int, records: int) -> None:
        """A partition's lag: highwater minus the consumer's position (never below 0)."""
        self._lag.labels(topic, str(partition)).set(max(records, 0))

    def forget_lag(self, topic: str, partitions: Iterable[int]) -> None:
        """Drop the lag of partitions this worker no longer owns (their new owner reports it).

        >>> m = WorkerMetrics()
        >>> m.lag("t", 0, 5)
        >>> m.forget_lag("t", [0, 1])
        >>> b"driftline_consumer_lag{" in m.render()
        False
        """
        for partition in partitions:
            with contextlib.suppress(KeyError):
                self._lag.remove(topic, str(partition))

    def dead_letter(self, letter: DeadLetter) -> None:
        """A dead letter published, counted by its source topic and :func:`reason_class`."""
        self._dead.labels(letter.topic, reason_class(letter.reason)).inc()

    def statistic(self, model: str, feature: str, test: str, value: float) -> None:
        """The statistic of a feature's (or ``feature|key=value`` segment's) last closed window."""
        self._statistic.labels(model, feature, test).set(value)

    def alert(self, alert: DriftAlert) -> None:
        """An alert published, counted by model, state (firing, resolved) and severity."""
        self._alerts.labels(alert.model_id, alert.state, alert.severity).inc()

    def trigger(self, trigger: RetrainTrigger) -> None:
        """A retrain trigger published, counted by model."""
        self._triggers.labels(trigger.model_id).inc()

    def labels(self, model: str, counts: LabelCounts, lags: Iterable[float]) -> None:
        """A model's label tallies after a join, and the lags of the labels just joined.

        >>> from driftline.streams.state import LabelCounts
        >>> m = WorkerMetrics()
        >>> m.labels("fraud", LabelCounts(joined=7, pending=2), [30.0, 90.0])
        >>> text = m.render().decode()
        >>> 'driftline_labels{model="fraud",state="waiting"} 2.0' in text
        True
        >>> 'driftline_label_lag_seconds_count{model="fraud"} 2.0' in text
        True
        """
        for state, n in (("joined", counts.joined), ("waiting", counts.pending), ("overdue", counts.overdue),
                         ("unmatched", counts.unmatched), ("dropped", counts.dropped),
                         ("duplicates", counts.duplicates)):
            self._labels.labels(model, state).set(n)
        for lag in lags:
            self._label_lag.labels(model).observe(lag)

    def performance(self, model: str, metric: str, value: float, completeness: float | None) -> None:
        """The newest judged performance window: its metric, and how much of it is labelled."""
        self._performance.labels(model, metric).set(value)
        if completeness is not None:
            self._completeness.labels(model).set(completeness)

    def render(self) -> bytes:
        """Every metric in the Prometheus text exposition format."""
        return bytes(generate_latest(self.registry))


def install_metrics_page(app: faust.App, metrics: WorkerMetrics) -> None:
    """Serve ``metrics`` at ``/metrics`` on the app's web server.

    The app must have its web server on (``web_enabled=True``, ``web_port``): ``create_app`` does that when
    ``Settings.metrics_port`` is not 0. Call before the app starts.
    """

    @app.page("/metrics")  # type: ignore[arg-type]  # faust types a page handler as a View method
    async def metrics_page(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        # aiohttp refuses a charset inside content_type, and Prometheus' type carries one: send it as a header.
        return web.bytes(metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
