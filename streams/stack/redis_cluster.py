"""A real Redis Cluster on loopback: N (default 3) ``redis-server`` masters, no replicas.

Each master runs with ``--cluster-enabled yes`` on a free port, its cluster bus on
another free port (``--cluster-port``: the default, port + 10000, may be taken or past
65535), its node table in ``<workdir>/nodes-<port>.conf`` and no persistence (unless
``aof=True``: per node, as in :mod:`.redis_server`). ``redis-cli --cluster create``
then spreads the 16384 slots evenly over them, and :meth:`RedisClusterNodes.start`
returns once every node reports ``cluster_state:ok`` with all slots assigned and every
other node known: before that a client may be sent to a node that does not yet know
it owns a slot.

Clients connect to :attr:`~RedisClusterNodes.url` (the first master) with
``RedisSettings(cluster=True)``; redis-py's cluster client discovers the rest.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis
from pydantic import SecretStr

from driftline.config import RedisSettings
from driftline.streams.stack.errors import RedisServerError
from driftline.streams.stack.ports import free_port
from driftline.streams.stack.process import Managed, ServiceProcess

log = logging.getLogger(__name__)

SLOTS = 16384
NODE_TIMEOUT_MS = 5000


class RedisClusterNodes(Managed):
    """``start``/``stop``/``kill`` are idempotent, ``restart`` keeps the ports (and, with ``aof``, the data);
    ``with RedisClusterNodes(dir) as cluster:`` stops on exit.

    >>> nodes = RedisClusterNodes(Path("/tmp/x"), masters=3)
    >>> len(nodes.ports), len(set(nodes.ports + nodes.bus_ports)), nodes.url == f"redis://127.0.0.1:{nodes.ports[0]}/0"
    (3, 6, True)
    """

    def __init__(self, workdir: Path, *, masters: int = 3, aof: bool = False) -> None:
        if masters < 3:
            raise ValueError(f"a Redis Cluster needs at least 3 masters, not {masters}")
        self.workdir = workdir
        self.aof = aof
        ports = _distinct_free_ports(2 * masters)
        self.ports, self.bus_ports = ports[:masters], ports[masters:]
        self._processes: list[ServiceProcess] = []
        self.start_seconds: float | None = None

    @property
    def url(self) -> str:
        """The first master's address: a cluster client finds the others from it."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    @property
    def pids(self) -> list[int]:
        """The masters' pids (for ``stack up``'s state file and for CPU times from /proc)."""
        return [p.pid for p in self._processes if p.pid is not None]

    @property
    def pid(self) -> int | None:
        """The first master's pid (what a single :class:`.RedisServer` would answer)."""
        pids = self.pids
        return pids[0] if pids else None

    @property
    def log_path(self) -> Path:
        """The first master's log; :meth:`log_path_of` for the others."""
        return self.log_path_of(self.ports[0])

    def log_path_of(self, port: int) -> Path:
        return self.workdir / f"redis-{port}.log"

    def client_settings(self) -> RedisSettings:
        return RedisSettings(url=SecretStr(self.url), cluster=True)

    def start(self, timeout: float = 30.0) -> None:
        """Start the masters, create the cluster, wait until it serves every slot; RedisServerError if not."""
        if self.alive():
            return
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            raise RedisServerError("a Redis Cluster needs redis-server and redis-cli: apt-get install -y redis-server")
        began = time.monotonic()
        deadline = began + timeout
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._processes = [self._node(binary, port, bus) for port, bus in zip(self.ports, self.bus_ports,
                                                                                   strict=True)]
            for process in self._processes:
                process.start()
            for port in self.ports:
                self._wait(port, deadline, lambda client: bool(client.ping()), "answer PING")
            if not self._created_marker.exists():  # a restart: the nodes re-form the cluster from their nodes-*.conf
                self._create(cli, deadline)
                self._created_marker.touch()
            for port in self.ports:
                self._wait(port, deadline, self._serves_every_slot, "report cluster_state:ok with every slot")
        except BaseException:  # a failure, or Ctrl-C while waiting: no master may outlive us
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        log.info("Redis Cluster of %d masters ready at %s in %.2fs", len(self.ports), self.url, self.start_seconds)

    def stop(self, grace_seconds: float = 10.0) -> None:
        """SIGTERM every master, SIGKILL after ``grace_seconds``. Idempotent."""
        for process in self._processes:
            process.stop(grace_seconds)

    def kill(self) -> None:
        """``kill -9`` every master."""
        for process in self._processes:
            process.kill()

    def restart(self, timeout: float = 30.0) -> None:
        """Stop and start every master on the same ports; they re-form the cluster from their node tables
        (the data is kept only with ``aof=True``)."""
        self.stop()
        self.start(timeout)

    @property
    def _created_marker(self) -> Path:
        return self.workdir / "cluster-created"

    def detach(self) -> None:
        """Leave the masters running after this Python process exits (``driftline stack up``)."""
        for process in self._processes:
            process.detach()

    def alive(self) -> bool:
        """Every master runs."""
        return bool(self._processes) and all(p.alive() for p in self._processes)


    def _node(self, binary: str, port: int, bus_port: int) -> ServiceProcess:
        node_dir = self.workdir / f"node-{port}"
        node_dir.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.aof else ["--appendonly", "no"]
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir), "--save", "",
                "--daemonize", "no", "--protected-mode", "yes", *persistence,
                "--cluster-enabled", "yes", "--cluster-port", str(bus_port),
                "--cluster-config-file", str(self.workdir / f"nodes-{port}.conf"),
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
        return ServiceProcess(f"redis-cluster-{port}", argv, self.log_path_of(port))

    def _create(self, cli: str, deadline: float) -> None:
        """``redis-cli --cluster create``: slots spread evenly, the nodes introduced to each other."""
        argv = [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                "--cluster-replicas", "0", "--cluster-yes"]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False,  # noqa: S603 — fixed argv
                                  timeout=max(deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired as exc:
            raise RedisServerError(f"redis-cli --cluster create did not finish: {exc.stdout!r}") from None
        if done.returncode != 0:
            raise RedisServerError(f"redis-cli --cluster create failed ({done.returncode}):\n"
                                   f"{done.stdout[-3000:]}{done.stderr[-2000:]}")

    def _serves_every_slot(self, client: redis.Redis) -> bool:
        reply = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]  # a dict, parsed by redis-py
        info = {k: str(v) for k, v in reply.items()}
        return (info.get("cluster_state") == "ok" and info.get("cluster_slots_ok") == str(SLOTS)
                and info.get("cluster_known_nodes") == str(len(self.ports)))

    def _wait(self, port: int, deadline: float, ready: Callable[[redis.Redis], bool], what: str) -> None:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)
        try:
            while time.monotonic() < deadline:
                if not self.alive():
                    break
                try:
                    if ready(client):
                        return
                except redis.RedisError:
                    pass
                time.sleep(0.05)
        finally:
            client.close()
        dead = [(p, process) for p, process in zip(self.ports, self._processes, strict=True) if not process.alive()]
        if dead:
            port, process = dead[0]
            state = "exited"
        else:
            process, state = self._processes[self.ports.index(port)], f"did not {what} in time"
        raise RedisServerError(f"Redis Cluster node 127.0.0.1:{port} {state}; {process.log_path} ends:\n"
                               f"{process.log_tail()}")


def _distinct_free_ports(n: int) -> list[int]:
    """``n`` different free loopback ports (free_port may hand out one twice in a row)."""
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports
