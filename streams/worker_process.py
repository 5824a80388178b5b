"""A ``driftline worker`` in a child process, for the demo, tests and benchmarks.

It runs in its own process group and is always stopped on exit: SIGTERM,
then SIGKILL after a grace period, so no worker outlives whoever started it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from driftline.config.settings import Settings


class WorkerProcess:
    def __init__(
        self,
        settings: Settings,
        *,
        log_path: Path,
        window_seconds: int = 60,
        lateness_seconds: int = 0,
        min_samples: int = 100,
        loglevel: str = "info",
    ) -> None:
        self._settings = settings
        self._log_path = log_path
        self._args = [
            "--window-seconds", str(window_seconds),
            "--lateness-seconds", str(lateness_seconds),
            "--min-samples", str(min_samples),
            "--loglevel", loglevel,
        ]
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("worker not started")
        return self._proc.pid

    @property
    def log_path(self) -> Path:
        return self._log_path

    def start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        env = {
            **os.environ,
            "DRIFTLINE_KAFKA_BOOTSTRAP": self._settings.kafka.bootstrap,
            "DRIFTLINE_REDIS_URL": self._settings.redis.url.get_secret_value(),
        }
        for name, value in self._settings.topics.model_dump().items():
            env[f"DRIFTLINE_TOPIC_{name.upper()}"] = value
        with self._log_path.open("ab") as log:
            self._proc = subprocess.Popen(  # noqa: S603 — our own interpreter and module
                [sys.executable, "-m", "driftline.streams.cli", "worker", *self._args],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL the worker's whole process group, as a crash would."""
        self._signal(signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait()

    def stop(self, grace_seconds: float = 15.0) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self._proc.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            self.kill()

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, sig)

    def __enter__(self) -> WorkerProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
