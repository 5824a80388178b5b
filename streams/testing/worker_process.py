"""A ``driftline worker`` in a child process, for the demo, tests and benchmarks.

It runs in its own process group and is always stopped on exit: SIGTERM,
then SIGKILL after a grace period, so no worker outlives whoever started it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr

from driftline.config import Settings
from driftline.streams.stack.process import Managed, ServiceProcess


class WorkerProcess(Managed):
    def __init__(
        self,
        settings: Settings,
        *,
        log_path: Path,
        window_seconds: int = 60,
        lateness_seconds: int = 0,
        min_samples: int = 100,
        loglevel: str = "info",
        extra_args: Sequence[str] = (),
    ) -> None:
        self.log_path = log_path
        argv = [
            sys.executable, "-m", "driftline.streams.cli.main", "worker",
            "--window-seconds", str(window_seconds),
            "--lateness-seconds", str(lateness_seconds),
            "--min-samples", str(min_samples),
            "--loglevel", loglevel,
            *extra_args,
        ]
        self._process = ServiceProcess("worker", argv, log_path, env=_worker_env(settings))

    @property
    def pid(self) -> int:
        if self._process.pid is None:
            raise RuntimeError("worker not started")
        return self._process.pid

    def start(self) -> None:
        self._process.start()

    def stop(self, grace_seconds: float = 15.0) -> None:
        self._process.stop(grace_seconds)

    def kill(self) -> None:
        """SIGKILL the worker's whole process group, as a crash would."""
        self._process.kill()

    def alive(self) -> bool:
        return self._process.alive()

    def rss_mb(self) -> float:
        """The worker's resident memory now (0 when it is not running or there is no /proc)."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except (OSError, RuntimeError):
            return 0.0
        kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        return kb / 1024

    def log_tail(self, chars: int = 4000) -> str:
        return self._process.log_tail(chars)



def _worker_env(settings: Settings) -> dict[str, str]:
    """The parent's environment with these settings' services and topics."""
    env = {
        **os.environ,
        "DRIFTLINE_APP_ID": settings.app_id,
        "DRIFTLINE_KAFKA_BOOTSTRAP": settings.kafka.bootstrap,
        "DRIFTLINE_REDIS_URL": settings.redis.url.get_secret_value(),
    }
    if settings.metrics_port:
        env["DRIFTLINE_METRICS_PORT"] = str(settings.metrics_port)
    if settings.fault_hold_commit_seconds:
        env["DRIFTLINE_FAULT_HOLD_COMMIT_SECONDS"] = str(settings.fault_hold_commit_seconds)
    if settings.fault_hold_close_seconds:
        env["DRIFTLINE_FAULT_HOLD_CLOSE_SECONDS"] = str(settings.fault_hold_close_seconds)
    env["DRIFTLINE_IDLE_CLOSE_SECONDS"] = str(settings.idle_close_seconds)
    env["DRIFTLINE_SILENCE_SECONDS"] = str(settings.silence_seconds)
    if settings.max_event_bytes != Settings.model_fields["max_event_bytes"].default:
        env["DRIFTLINE_MAX_EVENT_BYTES"] = str(settings.max_event_bytes)
    for name, value in settings.topics.model_dump().items():
        env[f"DRIFTLINE_TOPIC_{name.upper()}"] = value
    env.update(_security_env(settings))
    return env


def _security_env(settings: Settings) -> dict[str, str]:
    """Kafka's and Redis's credentials and TLS files where they differ from the defaults (the child needs
    the secrets themselves: they travel in its environment, never on its command line)."""
    env: dict[str, str] = {}
    for prefix, group in (("KAFKA", settings.kafka), ("REDIS", settings.redis)):
        for name, field in type(group).model_fields.items():
            value = getattr(group, name)
            if name in {"bootstrap", "url"} or value is None or value == field.default:
                continue
            env[f"DRIFTLINE_{prefix}_{name.upper()}"] = (
                value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            )
    return env
