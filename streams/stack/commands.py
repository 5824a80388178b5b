"""``driftline stack up | down | status | fetch``: a local Kafka + Redis that outlives the command."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path
from typing import Any

from driftline.config.settings import cache_dir
from driftline.streams.stack.kafka import KAFKA_VERSION, kafka_libs
from driftline.streams.stack.local import LocalStack


def state_dir() -> Path:
    return cache_dir() / "stack"


def add_stack_parser(subparsers: Any) -> None:
    stack = subparsers.add_parser("stack", help="a local Kafka (KRaft) + Redis on loopback, no Docker needed")
    actions = stack.add_subparsers(metavar="ACTION")
    up = actions.add_parser("up", help="start Kafka and Redis in the background; print their addresses")
    up.add_argument("--redis-aof", action="store_true", help="turn on Redis's append-only file")
    up.set_defaults(run=stack_up)
    actions.add_parser("down", help="stop them and delete their data").set_defaults(run=stack_down)
    actions.add_parser("status", help="are they running, and where").set_defaults(run=stack_status)
    actions.add_parser("fetch", help=f"download the Kafka {KAFKA_VERSION} jars only").set_defaults(run=stack_fetch)


def stack_fetch(args: argparse.Namespace) -> int:
    began = time.monotonic()
    libs = kafka_libs()
    print(f"Kafka {KAFKA_VERSION}: {len(list(libs.glob('*.jar')))} jars in {libs} ({time.monotonic() - began:.1f}s)")
    return 0


def stack_up(args: argparse.Namespace) -> int:
    state = _read_state()
    if state and _running(state):
        print("already up")
        _print_endpoints(state)
        return 0
    workdir = state_dir()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    stack = LocalStack(workdir, redis_aof=args.redis_aof)
    began = time.monotonic()
    stack.start()  # the services run in their own sessions: they outlive this command
    state = {
        "kafka": {"pid": stack.kafka.pid, "bootstrap": stack.kafka.bootstrap},
        "redis": {"pid": stack.redis.pid, "url": stack.redis.url},
        "workdir": str(workdir),
    }
    (workdir / "state.json").write_text(json.dumps(state, indent=2))
    print(f"up in {time.monotonic() - began:.1f}s (logs in {workdir})")
    _print_endpoints(state)
    return 0


def stack_down(args: argparse.Namespace) -> int:
    state = _read_state()
    if state is None:
        print("not running")
        return 0
    for name in ("kafka", "redis"):
        _terminate(state[name]["pid"])
        print(f"{name} stopped")
    shutil.rmtree(state["workdir"], ignore_errors=True)
    return 0


def stack_status(args: argparse.Namespace) -> int:
    state = _read_state()
    if state is None:
        print("not running")
        return 1
    kafka_up = _pid_alive(state["kafka"]["pid"]) and _port_open(state["kafka"]["bootstrap"])
    redis_host_port = state["redis"]["url"].split("//")[1].split("/")[0]
    redis_up = _pid_alive(state["redis"]["pid"]) and _port_open(redis_host_port)
    print(f"kafka  {'up  ' if kafka_up else 'DOWN'}  {state['kafka']['bootstrap']}")
    print(f"redis  {'up  ' if redis_up else 'DOWN'}  {state['redis']['url']}")
    return 0 if kafka_up and redis_up else 1


def _print_endpoints(state: dict[str, Any]) -> None:
    print(f"export DRIFTLINE_KAFKA_BOOTSTRAP={state['kafka']['bootstrap']}")
    print(f"export DRIFTLINE_REDIS_URL={state['redis']['url']}")


def _read_state() -> dict[str, Any] | None:
    path = state_dir() / "state.json"
    return json.loads(path.read_text()) if path.exists() else None


def _running(state: dict[str, Any]) -> bool:
    return all(_pid_alive(state[name]["pid"]) for name in ("kafka", "redis"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _port_open(host_port: str) -> bool:
    host, _, port = host_port.rpartition(":")
    with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=1):
        return True
    return False


def _terminate(pid: int, grace_seconds: float = 20.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
