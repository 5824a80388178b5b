"""Prometheus metrics of a worker, served at ``/metrics`` by the faust app's own web server.

One :class:`WorkerMetrics` per app, with its own registry (no process-global
state: two apps in one process, or tests, never collide). Label values are
bounded: topics, partitions, the models and features a deployment monitors, and
dead-letter reasons reduced to a few classes. docs/metrics.md lists each metric
and what to alert on; docs/decisions/0007-metrics-endpoint.md says why faust's
web server serves them.
"""

from __future__ import annotations

import faust
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from driftline.config.events import DeadLetter, DriftAlert, RetrainTrigger

REASON_CLASSES = ("empty", "not_json", "too_large", "unknown_model", "not_joined", "not_comparable", "schema")


def reason_class(reason: str) -> str:
    """A dead letter's reason as one of a few classes (the label must not take every message's text).

    >>> reason_class("not JSON: unexpected character"), reason_class("unknown model 'x': no reference ...")
    ('not_json', 'unknown_model')
    >>> reason_class("message is 2000000 bytes, over the 1000000-byte limit"), reason_class("features.x: bad")
    ('too_large', 'schema')
    """
    lowered = reason.lower()
    for needle, name in (("empty message", "empty"), ("not json", "not_json"), ("byte limit", "too_large"),
                         ("unknown model", "unknown_model"), ("not joined", "not_joined"),
                         ("cannot be compared", "not_comparable")):
        if needle in lowered:
            return name
    return "schema"


class WorkerMetrics:
    """The worker's counters, gauges and histograms.

    >>> m = WorkerMetrics()
    >>> m.batch("driftline.predictions", 500, 0.02)
    >>> b'driftline_events_consumed_total{topic="driftline.predictions"} 500.0' in m.render()
    True
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._consumed = Counter("driftline_events_consumed", "Records consumed and processed, by topic",
                                 ["topic"], registry=r)
        self._dead = Counter("driftline_dead_lettered", "Records sent to the dead-letter topic, by source topic "
                             "and reason class", ["topic", "reason"], registry=r)
        self._lag = Gauge("driftline_consumer_lag", "Records behind the partition's end after the last batch",
                          ["topic", "partition"], registry=r)
        self._latency = Histogram("driftline_batch_seconds", "Time to process and commit one batch", ["topic"],
                                  buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=r)
        self._size = Histogram("driftline_batch_records", "Records per batch", ["topic"],
                               buckets=(1, 10, 100, 500, 1000, 2500, 5000), registry=r)
        self._statistic = Gauge("driftline_window_statistic", "The statistic of the last closed window",
                                ["model", "feature", "test"], registry=r)
        self._alerts = Counter("driftline_alerts", "Alerts published", ["model", "state", "severity"], registry=r)
        self._triggers = Counter("driftline_retrain_triggers", "Retrain triggers published", ["model"], registry=r)

    def batch(self, topic: str, n_records: int, seconds: float) -> None:
        self._consumed.labels(topic).inc(n_records)
        self._latency.labels(topic).observe(seconds)
        self._size.labels(topic).observe(n_records)

    def lag(self, topic: str, partition: int, records: int) -> None:
        self._lag.labels(topic, str(partition)).set(max(records, 0))

    def dead_letter(self, letter: DeadLetter) -> None:
        self._dead.labels(letter.topic, reason_class(letter.reason)).inc()

    def statistic(self, model: str, feature: str, test: str, value: float) -> None:
        self._statistic.labels(model, feature, test).set(value)

    def alert(self, alert: DriftAlert) -> None:
        self._alerts.labels(alert.model_id, alert.state, alert.severity).inc()

    def trigger(self, trigger: RetrainTrigger) -> None:
        self._triggers.labels(trigger.model_id).inc()

    def render(self) -> bytes:
        """The text exposition format."""
        return bytes(generate_latest(self.registry))


def install_metrics_page(app: faust.App, metrics: WorkerMetrics) -> None:
    """Serve ``metrics`` at ``/metrics`` on the app's web server (enabled by ``metrics_port``)."""

    @app.page("/metrics")
    async def metrics_page(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        # aiohttp refuses a charset inside content_type, and Prometheus' type carries one: send it as a header.
        return web.bytes(metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})
