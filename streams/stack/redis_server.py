"""A real ``redis-server`` (Debian's) on a free loopback port."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import redis

from driftline.streams.stack.ports import free_port
from driftline.streams.stack.process import ServiceProcess


class RedisServerError(RuntimeError):
    """redis-server is missing or did not start; the message says why."""


class RedisServer:
    """No persistence by default; ``aof=True`` appends every write (``appendfsync always``)."""

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

    def start(self, timeout: float = 20.0) -> None:
        if self._process is not None and self._process.alive():
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
             "--daemonize", "no", *persistence],
            self.workdir / "redis.log",
        )
        self._process.start()
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        try:
            while time.monotonic() - began < timeout:
                if not self._process.alive():
                    break
                try:
                    if client.ping():
                        self.start_seconds = time.monotonic() - began
                        return
                except redis.ConnectionError:
                    time.sleep(0.05)
        finally:
            client.close()
        tail = self._process.log_tail()
        self.stop()
        raise RedisServerError(f"redis-server did not answer PING in {timeout:.0f}s; its log ends:\n{tail}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()

    def alive(self) -> bool:
        return self._process is not None and self._process.alive()
