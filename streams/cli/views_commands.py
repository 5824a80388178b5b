"""``driftline status``, ``dashboard`` and ``report``: the views' commands, reading the state in Redis.

A composition root (tests/test_layering.py): it may start driftline.views. The views (Bokeh among them)
and the Redis state are imported inside the run functions, so ``driftline worker`` never loads them.
All three open the state the same way, ``on_redis_state``: load the settings, check Redis, open
RedisState, close it again whatever happens; a failed check is one ``error: ...`` line and exit 1."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from driftline.config import load_settings
from driftline.streams.cli.output import err, say

if TYPE_CHECKING:
    from driftline.streams.state import RedisState

T = TypeVar("T")


def add_views_parsers(subparsers: Any) -> None:
    """Register ``status``, ``dashboard`` and ``report``; each sets ``run`` to a function(args) -> exit code."""
    status = subparsers.add_parser("status", help="models and features with their latest statistic, worst first")
    status.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                        help="colours next to the words (auto: on a terminal, unless NO_COLOR is set)")
    status.set_defaults(run=run_status)

    dashboard = subparsers.add_parser("dashboard",
                                      help="serve the live dashboard (reads Redis; runs beside the workers)")
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.add_argument("--port", type=int, default=8050)
    dashboard.add_argument("--refresh-seconds", type=float, default=5.0, help="how often the page refreshes")
    dashboard.set_defaults(run=run_dashboard)

    report = subparsers.add_parser("report", help="write one model's self-contained HTML report (or JSON)")
    report.add_argument("--model", required=True, help="the model id")
    report.add_argument("--from", dest="since", type=_timestamp,
                        help="windows ending at or after (ISO 8601 or epoch)")
    report.add_argument("--to", dest="until", type=_timestamp, help="windows ending at or before (ISO 8601 or epoch)")
    report.add_argument("--format", choices=["html", "json"], default="html")
    report.add_argument("--out", type=Path, help="the file to write (default: report-<model>.<format>)")
    report.set_defaults(run=run_report)


def on_redis_state(
    use: Callable[[RedisState], Awaitable[T]], then: Callable[[T], object] | None = None, *,
    errors: tuple[type[Exception], ...] = (),
) -> int:
    """Run ``use(state)`` on a checked, opened RedisState (closed again after), then ``then(its result)``: 0.

    The check failing (ServiceCheckFailed: contradicting settings, credentials, ACL, TLS), or one of ``errors``
    from ``use``: ``error: ...`` on stderr, 1. (A Redis that does not answer only logs a warning in the check.)"""
    from driftline.streams.app.preflight import ServiceCheckFailed, check_redis
    from driftline.streams.state import RedisState

    async def run() -> T:
        settings = load_settings().redis
        await check_redis(settings)
        state = RedisState.from_settings(settings)
        try:
            return await use(state)
        finally:
            await state.aclose()

    failures: tuple[type[Exception], ...] = (ServiceCheckFailed, *errors)
    try:
        result = asyncio.run(run())
    except failures as exc:
        err(str(exc))
        return 1
    if then is not None:
        then(result)
    return 0


def run_status(args: argparse.Namespace) -> int:
    import os
    import sys

    from driftline.views.status import status_lines

    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR"))

    async def lines(state: RedisState) -> list[str]:
        return await status_lines(state, colour=colour)

    return on_redis_state(lines, lambda found: say("\n".join(found)))


def run_dashboard(args: argparse.Namespace) -> int:
    from driftline.views.dashboard import serve

    async def serve_until_stopped(state: RedisState) -> None:
        runner = await serve(state, host=args.host, port=args.port, refresh_seconds=args.refresh_seconds)
        say(f"driftline dashboard: http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):
        return on_redis_state(serve_until_stopped)
    return 0


def run_report(args: argparse.Namespace) -> int:
    from driftline.views.report import write_report

    out = args.out or Path(f"report-{args.model}.{args.format}")

    async def write(state: RedisState) -> Path:
        return await write_report(state, args.model, out, since=args.since, until=args.until, fmt=args.format)

    def written(path: Path) -> None:
        say(f"report: {path.resolve()} ({path.stat().st_size / 1e6:.1f} MB)")

    return on_redis_state(write, written, errors=(LookupError,))


def _timestamp(text: str) -> float:
    """Epoch seconds from ISO 8601 (UTC unless it says otherwise) or a number of seconds."""
    from datetime import UTC, datetime

    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (ISO 8601, e.g. 2026-01-01T00:00, or epoch "
                                         "seconds)") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
