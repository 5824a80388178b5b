"""A real ``redis-server`` (the machine's, e.g. Debian's 7.0) on a free loopback port.

No persistence by default: test and demo state is throwaway and fsyncs would
only slow them. ``aof=True`` appends every write with ``appendfsync always``
in the server's own dir, so a fault test can kill -9 it and find every
acknowledged write after a restart on the same port and dir.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import redis

from driftline.streams.stack.errors import RedisServerError
from driftline.streams.stack.ports import free_port
from driftline.streams.stack.process import ServiceProcess

log = logging.getLogger(__name__)


class RedisServer:
    """``start``/``stop`` are idempotent; ``restart`` and ``kill`` keep the port and the data dir."""

    def __init__(self, workdir: Path, *, port: int | None = None, aof: bool = False) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.aof = aof
        self._process: ServiceProcess | None = None
        self.start_seconds: float | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def log_path(self) -> Path:
        return self.workdir / "redis.log"

    def start(self, timeout: float = 20.0) -> None:
        """Start and wait until PING answers; RedisServerError (with the log's tail) if it does not."""
        if self.alive():
            return
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerError("redis-server is not installed: apt-get install -y redis-server")
        began = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.aof else ["--appendonly", "no"]
        self._process = ServiceProcess(
            "redis",
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir), "--save", "",
             "--daemonize", "no", "--protected-mode", "yes", *persistence],
            self.log_path,
        )
        self._process.start()
        try:
            answered = self._wait_ping(began + timeout)
        except BaseException:  # Ctrl-C while waiting: redis-server must not outlive us
            self.stop()
            raise
        if not answered:
            tail = self._process.log_tail()
            self.stop()
            raise RedisServerError(f"redis-server on port {self.port} did not answer PING in {timeout:.0f}s; "
                                   f"{self.log_path} ends:\n{tail}")
        self.start_seconds = time.monotonic() - began
        log.info("redis-server ready at %s in %.2fs", self.url, self.start_seconds)

    def stop(self, grace_seconds: float = 10.0) -> None:
        """SIGTERM (redis flushes the AOF and exits), SIGKILL after ``grace_seconds``. Idempotent."""
        if self._process is not None:
            self._process.stop(grace_seconds)

    def kill(self) -> None:
        """``kill -9``: with ``aof=True`` every acknowledged write is still on disk."""
        if self._process is not None:
            self._process.kill()

    def restart(self, timeout: float = 20.0) -> None:
        self.stop()
        self.start(timeout)

    def detach(self) -> None:
        """Leave redis-server running after this Python process exits (``driftline stack up``)."""
        if self._process is not None:
            self._process.detach()

    def alive(self) -> bool:
        return self._process is not None and self._process.alive()

    def _wait_ping(self, deadline: float) -> bool:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            while time.monotonic() < deadline and self.alive():
                try:
                    if client.ping():
                        return True
                except redis.ConnectionError:
                    time.sleep(0.05)
            return False
        finally:
            client.close()
