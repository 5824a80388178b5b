"""A real ``redis-server`` (the machine's, e.g. Debian's 7.0) on a free loopback port.

No persistence by default: test and demo state is throwaway and fsyncs would
only slow them. ``aof=True`` appends every write with ``appendfsync always``
in the server's own dir, so a fault test can kill -9 it and find every
acknowledged write after a restart on the same port and dir.

``secure=StackSecrets(...)``: TLS only (``--port 0``, the port is the TLS port;
clients are not asked for certificates), and an ACL file with driftline's user
(its keys, every command but the ``@dangerous`` ones) and the ``default`` user
off, so nothing answers without the password.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from pathlib import Path

import redis
from pydantic import SecretStr

from driftline.config import RedisSettings
from driftline.streams.stack.errors import RedisServerError
from driftline.streams.stack.ports import free_port
from driftline.streams.stack.process import ProcessService, ServiceProcess
from driftline.streams.stack.secure import REDIS_KEY_PATTERN, StackSecrets

log = logging.getLogger(__name__)


class RedisServer(ProcessService):
    """``start``/``stop`` are idempotent; ``restart`` and ``kill`` keep the port and the data dir. A stop is
    SIGTERM (redis flushes the AOF and exits); with ``aof=True`` a ``kill -9`` still keeps every acknowledged
    write on disk."""

    START_TIMEOUT_SECONDS = 20.0
    STOP_GRACE_SECONDS = 10.0

    def __init__(
        self, workdir: Path, *, port: int | None = None, aof: bool = False, secure: StackSecrets | None = None
    ) -> None:
        self.workdir = workdir
        self.secure = secure
        self.port = port or free_port()
        self.aof = aof
        self._process = None
        self.start_seconds: float | None = None

    @property
    def url(self) -> str:
        scheme = "redis" if self.secure is None else "rediss"
        return f"{scheme}://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.workdir / "redis.log"

    def start(self, timeout: float | None = None) -> None:
        """Start and wait until PING answers; RedisServerError (with the log's tail) if it does not."""
        if self.alive():
            return
        timeout = self.START_TIMEOUT_SECONDS if timeout is None else timeout
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerError("redis-server is not installed: apt-get install -y redis-server")
        began = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.aof else ["--appendonly", "no"]
        self._process = ServiceProcess(
            "redis",
            [binary, *self._port_args(), "--bind", "127.0.0.1", "--dir", str(self.workdir), "--save", "",
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

    def client_settings(self) -> RedisSettings:
        """Settings a client needs for this server: its URL, and the ACL user and CA when secure."""
        if self.secure is None:
            return RedisSettings(url=SecretStr(self.url))
        return RedisSettings(url=SecretStr(self.url), username=self.secure.redis_username,
                             password=SecretStr(self.secure.redis_password), ssl_ca_certs=str(self.secure.certs.ca))

    def _port_args(self) -> list[str]:
        if self.secure is None:
            return ["--port", str(self.port)]
        certs = self.secure.certs
        return ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(certs.cert),
                "--tls-key-file", str(certs.key), "--tls-ca-cert-file", str(certs.ca), "--tls-auth-clients", "no",
                "--aclfile", str(self._write_acl(self.secure))]

    def _write_acl(self, secure: StackSecrets) -> Path:
        """The ACL file (owner-only: it holds the password's hash), so the password is not on the command line."""
        acl = self.workdir / "users.acl"
        digest = hashlib.sha256(secure.redis_password.encode()).hexdigest()
        acl.write_text(f"user default off\n"
                       f"user {secure.redis_username} on #{digest} {REDIS_KEY_PATTERN} resetchannels "
                       f"+@all -@dangerous\n")
        acl.chmod(0o600)
        return acl

    def _wait_ping(self, deadline: float) -> bool:
        secure: dict[str, object] = {}
        if self.secure is not None:
            secure = {"ssl": True, "ssl_ca_certs": str(self.secure.certs.ca), "username": self.secure.redis_username,
                      "password": self.secure.redis_password}
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1,
                             **secure)  # type: ignore[arg-type]
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
