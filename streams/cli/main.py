"""The ``driftline`` command line: ``worker``, ``demo``, ``status``, ``dashboard``, ``report``, ``alerts tail``,
``triggers exec``, ``reference build``, ``config show``, ``stack``.

The composition root: the only module of streams/ that may start the views' commands (imported inside
the command functions, so ``driftline worker`` never loads Bokeh)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from driftline.config.settings import load_settings, masked
from driftline.streams.stack.commands import add_stack_parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    return int(args.run(args))


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="driftline", description="Streaming drift monitor for models in production.")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    worker = sub.add_parser("worker", help="run the stream processors (several workers form one consumer group)")
    worker.add_argument("--window-seconds", type=int, default=60, help="tumbling event-time window length")
    worker.add_argument("--lateness-seconds", type=int, default=0, help="how long a window waits for late events")
    worker.add_argument("--min-samples", type=int, default=100, help="fewer values in a window say nothing")
    worker.add_argument("--fire-after", type=int, default=1, help="consecutive drifting windows to fire an alert")
    worker.add_argument("--resolve-after", type=int, default=2, help="consecutive clean windows to resolve it")
    worker.add_argument("--cooldown-seconds", type=float, default=0.0, help="no new firing this soon after a resolve")
    worker.add_argument("--join-labels", action="store_true",
                        help="keep predictions for joining late labels (models without a spec of their own)")
    worker.add_argument("--warmup-events", type=int, default=0,
                        help="a model without a reference gets one from its first N events (0: dead-letter them)")
    worker.add_argument("--spread-over-partitions", action="store_true",
                        help="producers key events by prediction_id, not model_id, so a model's events spread over "
                             "every partition: windows close once every partition has passed them")
    worker.add_argument("--spec", type=Path, action="append", default=[],
                        help="monitor spec file (.toml/.yaml), repeatable; models not in one use the flags above")
    worker.add_argument("--loglevel", default="info")
    worker.set_defaults(run=_worker)

    demo = sub.add_parser("demo", help="start a local stack and a worker, replay a drifting stream, print alerts")
    demo.add_argument("--events-per-window", type=int, default=1000)
    demo.add_argument("--windows", type=int, default=14)
    demo.add_argument("--drift-at", type=int, default=4, help="the window where drift starts")
    demo.add_argument("--drift-end", type=int, default=9, help="the window where it stops")
    demo.add_argument("--report", type=Path, default=Path("driftline-demo-report.html"),
                      help="where the demo writes the model's HTML report")
    demo.add_argument("--dashboard-port", type=int, default=8050, help="the dashboard's port (0 or taken: any free)")
    demo.add_argument("--hold-seconds", type=float, default=0.0,
                      help="keep everything up this long after the report, to look at the dashboard")
    demo.set_defaults(run=_demo)

    status = sub.add_parser("status", help="models and features with their latest statistic, worst first")
    status.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                        help="colours next to the words (auto: on a terminal, unless NO_COLOR is set)")
    status.set_defaults(run=_status)

    dashboard = sub.add_parser("dashboard", help="serve the live dashboard (reads Redis; runs beside the workers)")
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.add_argument("--port", type=int, default=8050)
    dashboard.add_argument("--refresh-seconds", type=float, default=5.0, help="how often the page refreshes")
    dashboard.set_defaults(run=_dashboard)

    report = sub.add_parser("report", help="write one model's self-contained HTML report (or JSON)")
    report.add_argument("--model", required=True, help="the model id")
    report.add_argument("--from", dest="since", type=_timestamp, help="windows ending at or after (ISO 8601 or epoch)")
    report.add_argument("--to", dest="until", type=_timestamp, help="windows ending at or before (ISO 8601 or epoch)")
    report.add_argument("--format", choices=["html", "json"], default="html")
    report.add_argument("--out", type=Path, help="the file to write (default: report-<model>.<format>)")
    report.set_defaults(run=_report)

    config = sub.add_parser("config", help="settings")
    config_sub = config.add_subparsers(metavar="ACTION")
    show = config_sub.add_parser("show", help="print the effective settings, secrets masked")
    show.set_defaults(run=_config_show)

    alerts = sub.add_parser("alerts", help="drift alerts")
    alerts_sub = alerts.add_subparsers(metavar="ACTION")
    tail = alerts_sub.add_parser("tail", help="follow the alerts topic, readable")
    tail.add_argument("--from-beginning", action="store_true")
    tail.set_defaults(run=_alerts_tail)

    triggers = sub.add_parser("triggers", help="retrain triggers")
    triggers_sub = triggers.add_subparsers(metavar="ACTION")
    exec_ = triggers_sub.add_parser("exec", help="run a command once per retrain trigger (trigger JSON on stdin)",
                                    usage="driftline triggers exec [--group G] [--retries N] -- CMD [ARGS...]")
    exec_.add_argument("--group", help="consumer group (default <app_id>.triggers-exec); one per kind of job")
    exec_.add_argument("--retries", type=int, default=3, help="retries of a failing command before stopping")
    exec_.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    exec_.set_defaults(run=_triggers_exec)

    reference = sub.add_parser("reference", help="model references (the baselines windows are compared with)")
    reference_sub = reference.add_subparsers(metavar="ACTION")
    build = reference_sub.add_parser("build", help="build a reference from training data and publish it")
    build.add_argument("--model", required=True, help="the model id")
    build.add_argument("--data", required=True, type=Path, help="training data: .csv, .jsonl or .parquet")
    build.add_argument("--version", help="reference version (default: a hash of the reference's content)")
    build.add_argument("--bins", type=int, default=10, help="quantile bins per numeric feature")
    build.add_argument("--exclude", default="", help="comma-separated columns to leave out (ids, labels)")
    build.add_argument("--categorical", default="",
                       help="comma-separated columns to treat as categories even if numeric (class ids, codes)")
    build.add_argument("--max-categories", type=int, default=50, help="top categories kept; the rest is __other__")
    build.add_argument("--prediction", help="the column holding the model's prediction (score or class): "
                                            "profiled as __prediction__ for prior drift")
    build.set_defaults(run=_reference_build)

    add_stack_parser(sub)
    return parser


def _status(args: argparse.Namespace) -> int:
    import os

    from driftline.streams.app.preflight import ServiceCheckFailed, check_redis
    from driftline.streams.state import RedisState
    from driftline.views.status import status_lines

    colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty() and not os.environ.get("NO_COLOR"))

    async def lines() -> list[str]:
        settings = load_settings().redis
        await check_redis(settings)
        state = RedisState.from_settings(settings)
        try:
            return await status_lines(state, colour=colour)
        finally:
            await state.aclose()

    try:
        print("\n".join(asyncio.run(lines())))
    except ServiceCheckFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from driftline.streams.app.preflight import ServiceCheckFailed, check_redis
    from driftline.streams.state import RedisState
    from driftline.views.dashboard import serve

    async def run() -> None:
        settings = load_settings().redis
        await check_redis(settings)
        state = RedisState.from_settings(settings)
        runner = await serve(state, host=args.host, port=args.port, refresh_seconds=args.refresh_seconds)
        print(f"driftline dashboard: http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
            await state.aclose()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
    except ServiceCheckFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _report(args: argparse.Namespace) -> int:
    from driftline.streams.app.preflight import ServiceCheckFailed, check_redis
    from driftline.streams.state import RedisState
    from driftline.views.report import write_report

    out = args.out or Path(f"report-{args.model}.{args.format}")

    async def run() -> Path:
        settings = load_settings().redis
        await check_redis(settings)
        state = RedisState.from_settings(settings)
        try:
            return await write_report(state, args.model, out, since=args.since, until=args.until, fmt=args.format)
        finally:
            await state.aclose()

    try:
        written = asyncio.run(run())
    except (ServiceCheckFailed, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"report: {written.resolve()} ({written.stat().st_size / 1e6:.1f} MB)")
    return 0


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


def _config_show(args: argparse.Namespace) -> int:
    print(json.dumps(masked(load_settings()), indent=2))
    return 0


def _worker(args: argparse.Namespace) -> int:
    from driftline.config.monitor_spec import SpecError
    from driftline.streams.app.preflight import ServiceCheckFailed
    from driftline.streams.app.worker import run_worker
    from driftline.streams.cli.spec_files import load_monitor_specs
    from driftline.streams.pipeline.model_setup import UnsupportedSpec, WorkerDefaults, check_supported

    options = WorkerDefaults(
        window_seconds=args.window_seconds, lateness_seconds=args.lateness_seconds, min_samples=args.min_samples,
        fire_after=args.fire_after, resolve_after=args.resolve_after, cooldown_seconds=args.cooldown_seconds,
        join_labels=args.join_labels, warmup_events=args.warmup_events,
        spread_over_partitions=args.spread_over_partitions,
    )
    try:
        specs = load_monitor_specs(args.spec)
        check_supported(specs)
    except (SpecError, UnsupportedSpec) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return run_worker(load_settings(), options, specs=specs, loglevel=args.loglevel)
    except ServiceCheckFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _demo(args: argparse.Namespace) -> int:
    from driftline.streams.cli.demo import DemoOptions, run_demo

    options = DemoOptions(events_per_window=args.events_per_window, windows=args.windows, drift_at=args.drift_at,
                          drift_end=args.drift_end, report=args.report, dashboard_port=args.dashboard_port,
                          hold_seconds=args.hold_seconds)
    return run_demo(options)


def _reference_build(args: argparse.Namespace) -> int:
    from driftline.config.events import ModelId
    from driftline.detectors.reference import ModelReference, versioned
    from driftline.streams.references import ReferenceDataError, publish_reference, read_reference_data

    try:
        TypeAdapter(ModelId).validate_python(args.model)
        columns = read_reference_data(
            args.data, exclude=_names(args.exclude), categorical=_names(args.categorical), prediction=args.prediction
        )
    except (ValidationError, ReferenceDataError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    draft = ModelReference.build(args.model, args.version or "draft", columns.numeric, n_bins=args.bins,
                                 categorical=columns.categorical, max_categories=args.max_categories)
    reference = versioned(draft, args.version)
    asyncio.run(publish_reference(load_settings(), reference))
    print(f"reference {reference.model_id} version {reference.version}: {len(columns.numeric)} numeric "
          f"features ({args.bins} bins each) and {len(columns.categorical)} categorical from {columns.rows} rows")
    for name, why in sorted(columns.skipped.items()):
        print(f"  skipped {name}: {why}")
    return 0


def _triggers_exec(args: argparse.Namespace) -> int:
    from driftline.streams.cli.triggers_exec import TriggerRunner

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("error: no command: driftline triggers exec -- CMD [ARGS...]", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    runner = TriggerRunner(load_settings(), command, group=args.group, retries=args.retries)
    return asyncio.run(runner.run())


def _names(csv_list: str) -> list[str]:
    return [name.strip() for name in csv_list.split(",") if name.strip()]


def _alerts_tail(args: argparse.Namespace) -> int:
    from driftline.streams.cli.alerts_tail import tail_alerts

    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(tail_alerts(load_settings(), from_beginning=args.from_beginning, out=sys.stdout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
