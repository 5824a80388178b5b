"""Follow the alerts topic and print each alert as one readable line."""

from __future__ import annotations

from typing import TextIO

from aiokafka import AIOKafkaConsumer

from driftline.config import DriftAlert, Settings
from driftline.streams.app.kafka import kafka_options
from driftline.streams.ingest import InvalidEvent, decode


def format_alert(alert: DriftAlert) -> str:
    """One line a person can read at a glance.

    >>> from datetime import datetime, UTC
    >>> from driftline.config.events import TimeWindow
    >>> w = TimeWindow(start=datetime(2026, 1, 1, 0, 6, tzinfo=UTC), end=datetime(2026, 1, 1, 0, 7, tzinfo=UTC))
    >>> a = DriftAlert(alert_id="a1", model_id="fraud", feature="amount", detector="psi", statistic=0.8123,
    ...     threshold=0.25, severity="critical", state="firing", window=w, reference_version="v1",
    ...     n_reference=5000, n_current=1000)
    >>> print(format_alert(a))
    CRITICAL firing  fraud / amount: psi 0.812 >= 0.25  window 2026-01-01 00:06-00:07 UTC  n=1000 vs ref 5000
    """
    w = alert.window
    span = f"{w.start:%Y-%m-%d %H:%M}-{w.end:%H:%M} UTC"
    relation = ">=" if alert.statistic >= alert.threshold else "<"
    gate = f" (p={alert.p_value:.1e})" if alert.p_value is not None else ""
    return (
        f"{alert.severity.upper()} {alert.state:<7} {alert.model_id} / {alert.feature}: "
        f"{alert.detector} {alert.statistic:.3f} {relation} {alert.threshold:g}{gate}  window {span}  "
        f"n={alert.n_current} vs ref {alert.n_reference}"
    )


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
