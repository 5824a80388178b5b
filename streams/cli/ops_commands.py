"""``driftline config show``, ``alerts tail`` and ``triggers exec``: the settings, the alerts topic, the triggers.

The Kafka side (alerts_tail.py, triggers_exec.py) is imported inside the run functions."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from typing import Any

from driftline.config import load_settings, masked
from driftline.streams.cli.output import err, say


def add_ops_parsers(subparsers: Any) -> None:
    """Register ``config show``, ``alerts tail`` and ``triggers exec``; each sets ``run`` to function(args) -> exit."""
    config = subparsers.add_parser("config", help="settings")
    config_sub = config.add_subparsers(metavar="ACTION")
    show = config_sub.add_parser("show", help="print the effective settings, secrets masked")
    show.set_defaults(run=run_config_show)

    alerts = subparsers.add_parser("alerts", help="drift alerts")
    alerts_sub = alerts.add_subparsers(metavar="ACTION")
    tail = alerts_sub.add_parser("tail", help="follow the alerts topic, readable")
    tail.add_argument("--from-beginning", action="store_true")
    tail.set_defaults(run=run_alerts_tail)

    triggers = subparsers.add_parser("triggers", help="retrain triggers")
    triggers_sub = triggers.add_subparsers(metavar="ACTION")
    exec_ = triggers_sub.add_parser("exec", help="run a command once per retrain trigger (trigger JSON on stdin)",
                                    usage="driftline triggers exec [--group G] [--retries N] -- CMD [ARGS...]")
    exec_.add_argument("--group", help="consumer group (default <app_id>.triggers-exec); one per kind of job")
    exec_.add_argument("--retries", type=int, default=3, help="retries of a failing command before stopping")
    exec_.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    exec_.set_defaults(run=run_triggers_exec)


def run_config_show(args: argparse.Namespace) -> int:
    say(json.dumps(masked(load_settings()), indent=2))
    return 0


def run_alerts_tail(args: argparse.Namespace) -> int:
    from driftline.streams.cli.alerts_tail import tail_alerts

    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(tail_alerts(load_settings(), from_beginning=args.from_beginning, out=sys.stdout))
    return 0


def run_triggers_exec(args: argparse.Namespace) -> int:
    from driftline.streams.cli.triggers_exec import TriggerRunner

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        err("no command: driftline triggers exec -- CMD [ARGS...]")
        return 2
    logging.basicConfig(level=logging.WARNING)
    runner = TriggerRunner(load_settings(), command, group=args.group, retries=args.retries)
    return asyncio.run(runner.run())
