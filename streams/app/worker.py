"""Run the faust worker for driftline's app (what ``driftline worker`` does)."""

from __future__ import annotations

import asyncio

import faust

from driftline.config import ModelSpec, Settings
from driftline.streams.app.factory import create_app
from driftline.streams.app.preflight import check_services
from driftline.streams.app.topics import ensure_topics
from driftline.streams.pipeline.model_setup import WorkerDefaults


def run_worker(
    settings: Settings,
    options: WorkerDefaults | None = None,
    *,
    specs: dict[str, ModelSpec] | None = None,
    loglevel: str = "info",
) -> int:
    """Check the credentials, create the topics if needed, then run until SIGTERM / SIGINT. Returns the exit
    code; :class:`~driftline.streams.app.preflight.ServiceCheckFailed` if Kafka or Redis rejects the settings."""
    asyncio.run(check_services(settings))
    asyncio.run(ensure_topics(settings))
    app = create_app(settings, options, specs=specs)
    # faust's Worker owns the event loop and signal handling; it exits the process itself.
    worker = faust.Worker(app, loglevel=loglevel, redirect_stdouts=False)
    worker.execute_from_commandline()
    return 0
