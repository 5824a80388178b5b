"""What every fault scenario ends with: wait for the stream to be processed, then judge it exactly."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from driftline.config.settings import Settings
from driftline.streams.state.history import RedisHistory
from driftline.streams.state.windows import RedisWindowStore
from driftline.streams.testing.oracle import AlertLog, RunReport, Workload, judge, read_all, topic_records, wait_counted
from driftline.streams.testing.worker_process import WorkerProcess

from ..support.waiting import wait_until


async def finish_and_judge(
    settings: Settings,
    store: RedisWindowStore,
    workload: Workload,
    workers: Sequence[WorkerProcess],
    expected_alert_ids: set[str] | None,
    *,
    seconds: float = 180,
) -> RunReport:
    """Wait until the live workers have counted the topic, then compare Redis and the alerts with it."""
    expected = await topic_records(settings, settings.topics.predictions)
    assert expected == workload.events, "the producer itself lost or duplicated events"

    def alive() -> None:
        for w in workers:
            assert w.alive(), w.log_tail()

    now = await wait_counted(store, workload, expected, seconds=seconds, alive=alive)
    alerts = AlertLog.of(await read_all(settings, settings.topics.alerts))
    verdict = judge(expected, now, alerts, expected_alert_ids)
    assert set(now.per_feature) == set(workload.sims[0].reference().features), now.per_feature  # each counted
    await assert_history_exact(store, workload, alerts)
    return verdict


async def assert_history_exact(store: RedisWindowStore, workload: Workload, alerts: AlertLog) -> None:
    """The dashboard's history went through the same faults: one entry per closed window (written in the
    close transaction, so the two always agree), and every published alert kept once."""
    history = RedisHistory(store.redis)
    for sim in workload.sims:
        windows = [w.window_id for w in await history.windows(sim.model_id)]
        assert len(windows) == len(set(windows)) == await store.closed_window_count(sim.model_id), windows
    published: dict[str, set[str]] = {}
    for alert_id, contents in alerts.contents.items():
        model_id = orjson.loads(next(iter(contents)))["model_id"]
        published.setdefault(model_id, set()).add(alert_id)

    async def alerts_kept() -> bool:  # recorded just after the broker's ack: the last may be on its way
        kept = {m: {a.alert_id for a in await history.alerts(m)} for m in published}
        return kept == published

    await wait_until(alerts_kept, 15, "the alert history to hold every published alert", every=0.1)


def assert_exact(verdict: RunReport) -> None:
    assert verdict.exact, verdict


def log_count(worker: WorkerProcess, text: str) -> int:
    return worker.log_tail(50_000_000).count(text)
