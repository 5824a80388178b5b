"""``driftline worker``: the stream processors (several workers form one consumer group).

The monitoring flags (``--window-seconds`` ... ``--spread-over-partitions``) default to the fields of
``WorkerDefaults()``: a flag not given is left out of the parsed arguments (argparse.SUPPRESS) and
``worker_options`` puts the given ones over ``WorkerDefaults()``. Its module pulls in numpy and scipy
(~3 s), so it is imported when the worker starts, never to build the parser (``driftline --help``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftline.config import load_settings
from driftline.streams.cli.output import err

if TYPE_CHECKING:
    from driftline.streams.pipeline.model_setup import WorkerDefaults

UNSET = argparse.SUPPRESS  # not given: the WorkerDefaults field of the same name


def add_worker_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``worker``; its ``run`` starts one worker and returns its exit code."""
    worker: argparse.ArgumentParser = subparsers.add_parser(
        "worker", help="run the stream processors (several workers form one consumer group)"
    )
    worker.add_argument("--window-seconds", type=int, default=UNSET, help="tumbling event-time window length")
    worker.add_argument("--lateness-seconds", type=int, default=UNSET, help="how long a window waits for late events")
    worker.add_argument("--min-samples", type=int, default=UNSET, help="fewer values in a window say nothing")
    worker.add_argument("--fire-after", type=int, default=UNSET, help="consecutive drifting windows to fire an alert")
    worker.add_argument("--resolve-after", type=int, default=UNSET, help="consecutive clean windows to resolve it")
    worker.add_argument("--cooldown-seconds", type=float, default=UNSET,
                        help="no new firing this soon after a resolve")
    worker.add_argument("--join-labels", action="store_true", default=UNSET,
                        help="keep predictions for joining late labels (models without a spec of their own)")
    worker.add_argument("--label-ttl-seconds", type=float, default=UNSET,
                        help="retention: how long a prediction is kept for its label (from when it was stored), "
                             "and how long a label that came first waits for its prediction (default 7 days)")
    worker.add_argument("--warmup-events", type=int, default=UNSET,
                        help="a model without a reference gets one from its first N events (0: dead-letter them)")
    worker.add_argument("--spread-over-partitions", action="store_true", default=UNSET,
                        help="producers key events by prediction_id, not model_id, so a model's events spread over "
                             "every partition: windows close once every partition has passed them")
    worker.add_argument("--false-alarms-per-day", type=_positive, default=UNSET, metavar="N",
                        help="the fleet's budget: expected false alarms a day across every model and feature, shared "
                             "out as every test's ERT (docs/thresholds.md); unset: each spec's ert_windows")
    worker.add_argument("--spec", type=Path, action="append", default=[],
                        help="monitor spec file (.toml/.yaml), repeatable; models not in one use the flags above")
    worker.add_argument("--loglevel", default="info")
    worker.set_defaults(run=run_worker_command)
    return worker


def run_worker_command(args: argparse.Namespace) -> int:
    from driftline.config import SpecError
    from driftline.streams.app.preflight import ServiceCheckFailed
    from driftline.streams.app.worker import run_worker
    from driftline.streams.cli.spec_files import load_monitor_specs
    from driftline.streams.pipeline.model_setup import UnsupportedSpec, check_supported

    options = worker_options(args)
    try:
        specs = load_monitor_specs(args.spec)
        check_supported(specs)
    except (SpecError, UnsupportedSpec) as exc:
        err(str(exc))
        return 2
    try:
        return run_worker(load_settings(), options, specs=specs, loglevel=args.loglevel)
    except ServiceCheckFailed as exc:
        err(str(exc))
        return 1


def worker_options(args: argparse.Namespace) -> WorkerDefaults:
    """The monitoring flags given, over ``WorkerDefaults()``.

    >>> parser = argparse.ArgumentParser()
    >>> _ = add_worker_parser(parser.add_subparsers())
    >>> options = worker_options(parser.parse_args(["worker", "--min-samples", "5", "--join-labels"]))
    >>> options.min_samples, options.join_labels, options.window_seconds, options.spread_over_partitions
    (5, True, 60, False)
    """
    import dataclasses

    from driftline.streams.pipeline.model_setup import WorkerDefaults

    given = {field.name: getattr(args, field.name) for field in dataclasses.fields(WorkerDefaults)
             if hasattr(args, field.name)}
    return dataclasses.replace(WorkerDefaults(), **given)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value
