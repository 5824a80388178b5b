"""``driftline stack up | down | status | fetch``: a local Kafka + Redis that outlives the command.

``up`` prints only ``export ...`` lines on stdout, so ``eval "$(driftline stack up)"``
works; the human-readable lines go to stderr. The pids, ports and dirs live in
``<cache>/stack/state.json`` for ``status`` and ``down``.

``up --secure`` starts Kafka with SASL_SSL (SCRAM-SHA-512) and Redis with TLS and
an ACL user, and prints the credentials' export lines too; then ``state.json``
holds the passwords and is readable by its owner only.

``up --redis-cluster`` starts a Redis Cluster of 3 masters instead of one
redis-server and exports ``DRIFTLINE_REDIS_CLUSTER=true`` beside its first
master's URL; ``status`` and ``down`` see to every master.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from driftline.config import cache_dir
from driftline.streams.stack.errors import StackError
from driftline.streams.stack.fetch import KAFKA_VERSION, kafka_libs
from driftline.streams.stack.local import LocalStack
from driftline.streams.stack.redis_cluster import RedisClusterNodes

SERVICES = ("kafka", "redis")


def state_dir() -> Path:
    return Path(cache_dir()) / "stack"


def add_stack_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``stack {up,down,status,fetch}``; each action sets ``run`` to a function(args) -> exit code."""
    stack: argparse.ArgumentParser = subparsers.add_parser(
        "stack", help="a local Kafka (KRaft) + Redis on loopback, no Docker needed"
    )
    actions = stack.add_subparsers(dest="stack_action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start Kafka and Redis in the background; print export lines to eval")
    up.add_argument("--redis-aof", action="store_true", help="turn on Redis's append-only file (fsync always)")
    up.add_argument("--secure", action="store_true",
                    help="Kafka over SASL_SSL (SCRAM-SHA-512), Redis over TLS with an ACL user; random passwords")
    up.add_argument("--redis-cluster", action="store_true",
                    help="a Redis Cluster of 3 masters (redis-cli --cluster create) instead of one redis-server")
    up.set_defaults(run=stack_up)
    actions.add_parser("down", help="stop them and delete their data").set_defaults(run=stack_down)
    actions.add_parser("status", help="are they running, and where (exit 1 if not)").set_defaults(run=stack_status)
    actions.add_parser("fetch", help=f"download the Kafka {KAFKA_VERSION} jars only (warms the cache)").set_defaults(
        run=stack_fetch
    )
    return stack


def stack_fetch(args: argparse.Namespace | None = None) -> int:
    began = time.monotonic()
    try:
        libs = kafka_libs()
    except StackError as exc:
        _err(str(exc))
        return 1
    jars = len(list(libs.glob("*.jar")))
    print(f"Kafka {KAFKA_VERSION}: {jars} jars in {libs} ({time.monotonic() - began:.1f}s)")
    return 0


def stack_up(
    args: argparse.Namespace | None = None, *, redis_aof: bool | None = None, secure: bool | None = None,
    redis_cluster: bool | None = None,
) -> int:
    aof = bool(getattr(args, "redis_aof", False)) if redis_aof is None else redis_aof
    secure = bool(getattr(args, "secure", False)) if secure is None else secure
    cluster = bool(getattr(args, "redis_cluster", False)) if redis_cluster is None else redis_cluster
    if secure and cluster:
        _err("--redis-cluster cannot be combined with --secure: the local Redis Cluster runs without TLS and ACLs "
             "(use --secure for TLS, or --redis-cluster for a cluster)")
        return 2
    state = _read_state()
    if state is not None:
        if all(_alive(state, name) for name in SERVICES):
            if bool(state["redis"].get("cluster")) != cluster:
                running = "a Redis Cluster" if state["redis"].get("cluster") else "a single redis-server"
                _err(f"already up with {running}; `driftline stack down` first to start it the other way")
                return 1
            _err("already up")
            _print_endpoints(state)
            return 0
        _stop_recorded(state)  # half up (one crashed): start over cleanly
    workdir = state_dir()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    stack = LocalStack(workdir, redis_aof=aof, secure=secure, redis_cluster=cluster)
    try:
        stack.start()
    except StackError as exc:
        _err(str(exc))
        return 1
    kafka_pid, redis_pid = stack.kafka.pid, stack.redis.pid
    assert kafka_pid is not None and redis_pid is not None  # started above
    redis_state: dict[str, Any] = {"pid": redis_pid, "since": _start_ticks(redis_pid), "url": stack.redis.url,
                                   "log": str(stack.redis.log_path)}
    if isinstance(stack.redis, RedisClusterNodes):
        nodes = stack.redis
        redis_state["cluster"] = True
        redis_state["nodes"] = [
            {"pid": pid, "since": _start_ticks(pid), "port": port, "log": str(nodes.log_path_of(port))}
            for pid, port in zip(nodes.pids, nodes.ports, strict=True)
        ]
    stack.detach()  # they run in their own sessions and now outlive this command
    state = {
        "kafka": {"pid": kafka_pid, "since": _start_ticks(kafka_pid), "bootstrap": stack.kafka.bootstrap,
                  "log": str(stack.kafka.log_path)},
        "redis": redis_state,
        "workdir": str(workdir),
    }
    if secure:
        addresses = {"DRIFTLINE_KAFKA_BOOTSTRAP", "DRIFTLINE_REDIS_URL"}
        state["secure_env"] = {k: v for k, v in stack.client_env().items() if k not in addresses}
    _write_state(state)
    times = stack.start_times
    if times is not None:
        redis_name = "the Redis Cluster" if cluster else "Redis"
        _err(f"up: Kafka {KAFKA_VERSION} ready in {times.kafka:.1f}s, {redis_name} in {times.redis:.2f}s "
             f"(logs in {workdir})")
    _print_endpoints(state)
    return 0


def stack_down(args: argparse.Namespace | None = None) -> int:
    state = _read_state()
    if state is None:
        _err("not running")
        return 0
    _stop_recorded(state)
    shutil.rmtree(state["workdir"], ignore_errors=True)
    _err("stopped; data removed")
    return 0


def stack_status(args: argparse.Namespace | None = None) -> int:
    state = _read_state()
    if state is None:
        print("not running")
        return 1
    kafka_up = _alive(state, "kafka") and _port_open(state["kafka"]["bootstrap"])
    print(f"kafka  {'up  ' if kafka_up else 'DOWN'}  {state['kafka']['bootstrap']}  (pid {state['kafka']['pid']})")
    redis_up = True
    for _, entry in _processes(state, "redis"):  # one redis-server, or each master of a cluster
        master = "port" in entry
        url = f"redis://127.0.0.1:{entry['port']}/0" if master else entry["url"]
        up = _entry_alive(entry) and _port_open(_host_port(url))
        redis_up = redis_up and up
        print(f"redis  {'up  ' if up else 'DOWN'}  {url}  (pid {entry['pid']}{', cluster master' if master else ''})")
    return 0 if kafka_up and redis_up else 1


def _print_endpoints(state: dict[str, Any]) -> None:
    _err(f"Kafka bootstrap servers: {state['kafka']['bootstrap']}")
    _err(f"Redis URL:               {state['redis']['url']}")
    nodes: list[dict[str, Any]] = state["redis"].get("nodes", [])
    if nodes:
        _err(f"Redis Cluster:           {len(nodes)} masters on 127.0.0.1 ports "
             f"{', '.join(str(n['port']) for n in nodes)} (clients find the others from the URL's)")
    print(f"export DRIFTLINE_KAFKA_BOOTSTRAP={state['kafka']['bootstrap']}")
    print(f"export DRIFTLINE_REDIS_URL={state['redis']['url']}")
    if state["redis"].get("cluster"):
        print("export DRIFTLINE_REDIS_CLUSTER=true")
    secure_env: dict[str, str] = state.get("secure_env", {})
    if secure_env:
        _err(f"Kafka: SASL_SSL, {secure_env['DRIFTLINE_KAFKA_SASL_MECHANISM']} user "
             f"{secure_env['DRIFTLINE_KAFKA_SASL_USERNAME']}; Redis: TLS, ACL user "
             f"{secure_env['DRIFTLINE_REDIS_USERNAME']}; CA {secure_env['DRIFTLINE_KAFKA_SSL_CAFILE']} "
             "(passwords only in the export lines)")
    for name, value in secure_env.items():
        print(f"export {name}={shlex.quote(value)}")


def _err(line: str) -> None:
    print(line, file=sys.stderr)


def _read_state() -> dict[str, Any] | None:
    path = state_dir() / "state.json"
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return state


def _write_state(state: dict[str, Any]) -> None:
    path = state_dir() / "state.json"
    tmp = path.with_suffix(".tmp")
    if "secure_env" in state:  # passwords: owner only, before a byte is written
        tmp.unlink(missing_ok=True)
        tmp.touch(mode=0o600)
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)  # a reader never sees half a file


def _alive(state: dict[str, Any], name: str) -> bool:
    """Every recorded process of the service runs (a Redis Cluster's: each master)."""
    return all(_entry_alive(entry) for _, entry in _processes(state, name))


def _processes(state: dict[str, Any], name: str) -> list[tuple[str, dict[str, Any]]]:
    """``(label, {"pid", "since", ...})`` per process of the service: one, or a cluster's masters."""
    nodes: list[dict[str, Any]] = state[name].get("nodes", [])
    if nodes:
        return [(f"{name} :{node['port']}", node) for node in nodes]
    return [(name, state[name])]


def _entry_alive(entry: dict[str, Any]) -> bool:
    """The recorded pid runs *and* is the process we started: a reused pid must never be signalled.

    The check is the process's start time (``/proc/<pid>/stat``), not its command line:
    redis-server rewrites its own process title.
    """
    pid = entry["pid"]
    if not _pid_exists(pid):
        return False
    since = _start_ticks(pid)
    return since is None or since == entry.get("since")


def _start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot; None without /proc (macOS: trust the pid)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[19])  # field 22 of stat(5); fields[0] is field 3


def _stop_recorded(state: dict[str, Any], grace_seconds: float = 20.0) -> None:
    for label, entry in [p for name in SERVICES for p in _processes(state, name)]:
        if not _entry_alive(entry):
            continue
        pid = entry["pid"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline and _pid_exists(pid):
            time.sleep(0.1)
        if _pid_exists(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        _err(f"{label} (pid {pid}) stopped")


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Detached services are not our children, so nothing reaps them: a zombie counts as gone.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    return True


def _host_port(url: str) -> str:
    return url.split("//", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]


def _port_open(host_port: str) -> bool:
    host, _, port = host_port.rpartition(":")
    with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=1):
        return True
    return False
