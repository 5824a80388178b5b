"""Follow the alerts topic and print each alert as one readable line."""

from __future__ import annotations

from typing import TextIO

from aiokafka import AIOKafkaConsumer

from driftline.config import DriftAlert, Settings
from driftline.detectors import SIGNALS, decision_rule, is_online
from driftline.streams.app.kafka import kafka_options
from driftline.streams.ingest import InvalidEvent, decode


def format_alert(alert: DriftAlert) -> str:
    """One line a person can read at a glance, true for every kind of detector: a window test's statistic
    against its threshold, a performance metric against its band and reference, an online detector's rule.

    >>> from datetime import datetime, UTC
    >>> from driftline.config.events import TimeWindow
    >>> w = TimeWindow(start=datetime(2026, 1, 1, 0, 6, tzinfo=UTC), end=datetime(2026, 1, 1, 0, 7, tzinfo=UTC))
    >>> a = DriftAlert(alert_id="a1", model_id="fraud", feature="amount", detector="psi", statistic=0.8123,
    ...     threshold=0.25, severity="critical", state="firing", window=w, reference_version="v1",
    ...     n_reference=5000, n_current=1000)
    >>> print(format_alert(a))
    CRITICAL firing  fraud / amount: psi 0.812 >= 0.25  window 2026-01-01 00:06-00:07 UTC  n=1000 vs ref 5000
    >>> late = TimeWindow(start=datetime(2026, 1, 1, 23, 0, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC))
    >>> print(format_alert(a.model_copy(update={"feature": "__performance__", "detector": "error_rate",
    ...     "statistic": 0.2, "threshold": 0.113, "reference_value": 0.08, "window": late, "p_value": 1e-9})))
    CRITICAL firing  fraud / __performance__: error_rate 0.200 > band 0.113 (ref 0.080, p=1.0e-09)  window \
2026-01-01 23:00-2026-01-02 00:00 UTC  n=1000 labels vs ref 5000
    >>> from driftline.config import ValuesEvidence
    >>> print(format_alert(a.model_copy(update={"feature": "channel", "detector": "unseen", "statistic": 0.08,
    ...     "threshold": 0.012, "p_value": 1e-30,
    ...     "evidence": ValuesEvidence(values={"kiosk": 120, "atm": 40})})))
    CRITICAL firing  fraud / channel: unseen 8.0% of values > 1.2% (p=1.0e-30); new: kiosk 120, atm 40  \
window 2026-01-01 00:06-00:07 UTC  n=1000 vs ref 5000
    >>> print(format_alert(a.model_copy(update={"feature": "__volume__", "detector": "volume", "statistic": 0.1,
    ...     "threshold": 0.25, "n_reference": 1000, "n_current": 100})))
    CRITICAL firing  fraud / __volume__: volume 0.10x the usual 1000 events per window (beyond 0.25x)  \
window 2026-01-01 00:06-00:07 UTC  n=100
    >>> print(format_alert(a.model_copy(update={"feature": "__performance__", "detector": "ddm",
    ...     "statistic": 0.087, "threshold": 3.0, "n_reference": 0, "state": "resolved"})))
    CRITICAL resolved fraud / __performance__: ddm saw no further change (this says nothing of recovery)  \
window 2026-01-01 00:06-00:07 UTC  n=1000
    """
    w = alert.window
    if w.start.date() == w.end.date():
        span = f"{w.start:%Y-%m-%d %H:%M}-{w.end:%H:%M} UTC"
    else:
        span = f"{w.start:%Y-%m-%d %H:%M}-{w.end:%Y-%m-%d %H:%M} UTC"
    where = f"{alert.model_id} / {alert.feature}"
    if alert.segment:
        where += " [" + ", ".join(f"{k}={v}" for k, v in sorted(alert.segment.items())) + "]"
    gate = f"p={alert.p_value:.1e}" if alert.p_value is not None else ""
    if alert.detector == "silence":
        if alert.state == "firing":
            verdict = f"silence: no event for {alert.statistic:.0f} s (alerts after {alert.threshold:.0f} s)"
        else:
            verdict = "silence over: events again"
        return f"{alert.severity.upper()} {alert.state:<7} {where}: {verdict}  since the event of {span}"
    if alert.detector == "volume":
        relation = "beyond" if alert.state == "firing" else "back within"
        verdict = (f"volume {alert.statistic:.2f}x the usual {alert.n_reference} events per window ({relation} "
                   f"{alert.threshold:g}x)")
        return f"{alert.severity.upper()} {alert.state:<7} {where}: {verdict}  window {span}  n={alert.n_current}"
    if alert.detector in SIGNALS:
        relation = ">" if alert.statistic > alert.threshold else "<="
        verdict = f"{alert.detector} {alert.statistic:.1%} of values {relation} {alert.threshold:.1%}"
        verdict += f" ({gate})" if gate else ""
        if alert.evidence is not None and alert.evidence.kind == "values":
            verdict += "; new: " + ", ".join(f"{name} {n}" for name, n in alert.evidence.values.items())
        counted = f"n={alert.n_current} vs ref {alert.n_reference}"
    elif is_online(alert.detector):
        if alert.state == "firing":
            verdict = (f"{alert.detector} detected a change: {decision_rule(alert.detector, alert.threshold)} "
                       f"(statistic {alert.statistic:.3f})")
        else:
            verdict = f"{alert.detector} saw no further change (this says nothing of recovery)"
        counted = f"n={alert.n_current}"
    elif alert.reference_value is not None:
        relation = "> band" if alert.statistic > alert.threshold else "within band"
        detail = ", ".join(x for x in (f"ref {alert.reference_value:.3f}", gate) if x)
        verdict = f"{alert.detector} {alert.statistic:.3f} {relation} {alert.threshold:.3f} ({detail})"
        counted = f"n={alert.n_current} labels vs ref {alert.n_reference}"
    else:
        relation = ">=" if alert.statistic >= alert.threshold else "<"
        verdict = f"{alert.detector} {alert.statistic:.3f} {relation} {alert.threshold:.3g}"
        detail = ", ".join(x for x in (alert.rule if alert.rule != "fixed" else None, gate) if x)
        verdict += f" ({detail})" if detail else ""
        counted = f"n={alert.n_current} vs ref {alert.n_reference}"
    return f"{alert.severity.upper()} {alert.state:<7} {where}: {verdict}  window {span}  {counted}"


async def tail_alerts(settings: Settings, *, from_beginning: bool, out: TextIO) -> None:
    consumer = AIOKafkaConsumer(
        settings.topics.alerts,
        **kafka_options(settings.kafka),
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    try:
        async for message in consumer:
            try:
                alert = decode(message.value, DriftAlert, max_bytes=settings.max_event_bytes)
            except InvalidEvent as exc:
                print(f"(unreadable alert at offset {message.offset}: {exc.reason})", file=out, flush=True)
                continue
            print(format_alert(alert), file=out, flush=True)
    finally:
        await consumer.stop()
