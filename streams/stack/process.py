"""A child service process in its own process group, stopped for sure.

Services run in their own session so a terminal's Ctrl-C reaches only Python,
which then stops them in order (Kafka gets its SIGTERM and shuts down cleanly
instead of dying mid-write). Because they are detached from our process group,
every live one is also registered for an ``atexit`` stop: an exception, a
Ctrl-C or a ``sys.exit`` that never reaches ``stop()`` still leaves no orphan.
Only ``detach()`` (used by ``driftline stack up``) lets a service outlive us.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import weakref
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

log = logging.getLogger(__name__)

_LIVE: weakref.WeakSet[ServiceProcess] = weakref.WeakSet()


class ServiceProcess:
    """Starts ``argv`` with its output in ``log_path``; SIGTERM then SIGKILL on stop."""

    def __init__(self, name: str, argv: list[str], log_path: Path, *, env: dict[str, str] | None = None) -> None:
        self.name = name
        self._argv = argv
        self._log_path = log_path
        self._env = env
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path:
        return self._log_path

    def start(self) -> None:
        if self.alive():
            return
        with self._log_path.open("ab") as log_file:
            self._proc = subprocess.Popen(  # noqa: S603 — fixed argv built by this package
                self._argv, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self._env, start_new_session=True,
            )
        _LIVE.add(self)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, grace_seconds: float = 20.0) -> None:
        """SIGTERM to the whole group; SIGKILL if it is still there after ``grace_seconds``. Idempotent."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self._proc.wait(grace_seconds)
            except subprocess.TimeoutExpired:
                log.warning("%s (pid %s) ignored SIGTERM for %.0fs: SIGKILL", self.name, self._proc.pid, grace_seconds)
                self._signal(signal.SIGKILL)
                self._proc.wait()
        self._proc = None
        _LIVE.discard(self)

    def kill(self) -> None:
        """SIGKILL the whole group, as a crash (or ``kill -9``) would."""
        if self._proc is not None:
            self._signal(signal.SIGKILL)
            self._proc.wait()
            self._proc = None
        _LIVE.discard(self)

    def detach(self) -> None:
        """Let the process outlive this Python process (no ``atexit`` stop); forget it here."""
        _LIVE.discard(self)
        if self._proc is not None:
            self._proc.returncode = 0  # keeps Popen.__del__ from warning about a running child
            self._proc = None

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, sig)


@atexit.register
def _stop_all_live() -> None:
    for process in list(_LIVE):
        log.warning("stopping %s (pid %s) left running at exit", process.name, process.pid)
        process.stop(grace_seconds=10.0)


class Managed:
    """Started on entering a ``with`` block, stopped on leaving it (``start`` and ``stop`` are idempotent)."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class ProcessService(Managed):
    """A local service run as one :class:`ServiceProcess`: what Kafka and redis-server share. Subclasses set
    ``_process`` in ``start`` and say how long a start may take and a clean stop may wait."""

    START_TIMEOUT_SECONDS: ClassVar[float] = 30.0
    STOP_GRACE_SECONDS: ClassVar[float] = 20.0
    _process: ServiceProcess | None = None

    def start(self, timeout: float | None = None) -> None:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self, grace_seconds: float | None = None) -> None:
        """Clean shutdown (SIGTERM; SIGKILL after ``grace_seconds``). Idempotent."""
        if self._process is not None:
            self._process.stop(self.STOP_GRACE_SECONDS if grace_seconds is None else grace_seconds)

    def kill(self) -> None:
        """``kill -9``: no clean shutdown; the next ``start`` recovers from the same data dir."""
        if self._process is not None:
            self._process.kill()

    def restart(self, timeout: float | None = None) -> None:
        self.stop()
        self.start(timeout)

    def detach(self) -> None:
        """Leave the service running after this Python process exits (``driftline stack up``)."""
        if self._process is not None:
            self._process.detach()

    def alive(self) -> bool:
        return self._process is not None and self._process.alive()
