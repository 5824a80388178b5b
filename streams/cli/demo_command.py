"""``driftline demo``: a local stack and a worker, a drifting stream replayed, its alerts printed (demo.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_demo_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``demo``; its ``run`` runs the whole demo and returns its exit code."""
    demo: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="start a local stack and a worker, replay a drifting stream, print alerts"
    )
    demo.add_argument("--events-per-window", type=int, default=1000)
    demo.add_argument("--windows", type=int, default=14)
    demo.add_argument("--drift-at", type=int, default=4, help="the window where drift starts")
    demo.add_argument("--drift-end", type=int, default=9, help="the window where it stops")
    demo.add_argument("--report", type=Path, default=Path("driftline-demo-report.html"),
                      help="where the demo writes the model's HTML report")
    demo.add_argument("--dashboard-port", type=int, default=8050, help="the dashboard's port (0 or taken: any free)")
    demo.add_argument("--hold-seconds", type=float, default=0.0,
                      help="keep everything up this long after the report, to look at the dashboard")
    demo.set_defaults(run=run_demo_command)
    return demo


def run_demo_command(args: argparse.Namespace) -> int:
    from driftline.streams.cli.demo import DemoOptions, run_demo

    options = DemoOptions(events_per_window=args.events_per_window, windows=args.windows, drift_at=args.drift_at,
                          drift_end=args.drift_end, report=args.report, dashboard_port=args.dashboard_port,
                          hold_seconds=args.hold_seconds)
    return run_demo(options)
