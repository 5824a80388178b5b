"""``driftline reference build``: a model's reference (the baseline its windows are compared with), from its
training data, published for the workers; ``driftline reference show``: the stored reference and the bars it sets
for a window of a given size. The detectors and the readers are imported in the run functions."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from driftline.config import load_settings
from driftline.streams.cli.output import err, say


def add_reference_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``reference build``; its ``run`` builds and publishes one reference: 0, or 2 on bad input."""
    reference: argparse.ArgumentParser = subparsers.add_parser(
        "reference", help="model references (the baselines windows are compared with)"
    )
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
    build.add_argument("--prediction", help="the column holding the model's prediction (a score, a class, or a "
                                            "{class: probability} map), or the probability columns, one per "
                                            "class (cat,dog,eel): profiled as __prediction__ for prior drift "
                                            "(a map: its top class, and each class's probability as "
                                            "__prediction__[class])")
    build.add_argument("--label", help="the column holding the ground truth (with --prediction): the reference "
                                       "performance (error rate, or MAE for regression) performance windows are "
                                       "compared with")
    build.add_argument("--task", choices=("auto", "binary", "classes", "regression"), default="auto",
                       help="the kind of model, for --label (auto: from each prediction and label)")
    build.add_argument("--decision-threshold", type=float, default=0.5,
                       help="a binary model says 1 at scores >= this, for --label")
    order = build.add_mutually_exclusive_group()
    order.add_argument("--time-column", help="the column holding each row's time (a number or an ISO 8601 date): "
                                             "rows are put in time order, and windows are also held to how much "
                                             "the reference's own stretches of their size differ from the whole "
                                             "(docs/thresholds.md); the column is no feature")
    order.add_argument("--ordered", action="store_true",
                       help="the rows are in a meaningful order already (time, region): as --time-column, "
                            "without sorting")
    build.set_defaults(run=run_reference_build)

    show = reference_sub.add_parser("show", help="print a model's stored reference and the bars its windows are "
                                                 "held to (calibrated and the reference's own variability)")
    show.add_argument("--model", required=True, help="the model id")
    show.add_argument("--spec", type=Path, action="append", default=[],
                      help="the monitor spec file the worker runs with (its tests and thresholds); repeatable")
    show.add_argument("--window-size", type=_positive, help="events per window (default: the spec's count window's "
                                                             f"size, else {DEFAULT_SHOW_WINDOW})")
    show.set_defaults(run=run_reference_show)
    return reference


DEFAULT_SHOW_WINDOW = 1000
"""The window size ``reference show`` reports bars for when neither ``--window-size`` nor a count window says."""


def run_reference_build(args: argparse.Namespace) -> int:
    import dataclasses

    from driftline.config import ModelId
    from driftline.detectors import ModelReference, versioned
    from driftline.streams.references import (
        ReferenceDataError,
        performance_counters,
        publish_reference,
        read_reference_data,
    )

    try:
        TypeAdapter(ModelId).validate_python(args.model)
        columns = read_reference_data(
            args.data, exclude=_names(args.exclude), categorical=_names(args.categorical), prediction=args.prediction,
            label=args.label, time_column=args.time_column,
        )
        performance = performance_counters(columns.labelled, task=args.task, threshold=args.decision_threshold,
                                           source=str(args.data)) if args.label else None
    except (ValidationError, ReferenceDataError) as exc:
        err(str(exc))
        return 2
    draft = ModelReference.build(args.model, args.version or "draft", columns.numeric, n_bins=args.bins,
                                 categorical=columns.categorical, max_categories=args.max_categories,
                                 mismatched_of=columns.mismatched,
                                 ordered=bool(args.time_column or args.ordered))
    reference = versioned(dataclasses.replace(draft, performance=performance.counts if performance else None),
                          args.version)
    asyncio.run(publish_reference(load_settings(), reference))
    say(f"reference {reference.model_id} version {reference.version}: {len(columns.numeric)} numeric "
        f"features ({args.bins} bins each) and {len(columns.categorical)} categorical from {columns.rows} rows")
    for name, why in sorted(columns.skipped.items()):
        say(f"  skipped {name}: {why}")
    for name, wrong in sorted(columns.mismatched.items()):
        say(f"  {name}: {wrong} values are not numbers (kept as its values of the wrong type)")
    for name in code_like(columns.numeric):
        say(f"  hint: {name} holds a few integers (one bin each); if they are codes (names, not quantities), "
            f"declare it --categorical {name}")
    if performance is not None:
        say(f"  performance reference: {performance.summary}")
    if reference.chunk_rows is not None:
        say(f"  {_order_summary(reference)}")
    return 0


def _order_summary(reference: Any) -> str:
    """What an ordered reference keeps of its order, and for which windows it sets a bar."""
    from driftline.detectors import MIN_GROUPS

    chunks = max((len(f.chunks) for f in reference.features.values()), default=0)
    largest = chunks // MIN_GROUPS * reference.chunk_rows
    if largest == 0:
        return (f"in order, but {chunks} chunks of {reference.chunk_rows} rows are too few for a variability bar "
                f"(it needs {MIN_GROUPS}): only the calibrated bars hold")
    return (f"in order: {chunks} chunks of {reference.chunk_rows} rows; windows of up to {largest} events are also "
            f"held to its own variability")


def run_reference_show(args: argparse.Namespace) -> int:
    from driftline.config import ModelSpec, SpecError
    from driftline.detectors import resolve_spec
    from driftline.streams.cli.spec_files import load_monitor_specs
    from driftline.streams.cli.views_commands import on_redis_state

    try:
        specs = load_monitor_specs(args.spec)
    except SpecError as exc:
        err(str(exc))
        return 2

    async def fetch(state: Any) -> Any:
        reference = await state.get_reference(args.model)
        if reference is None:
            raise LookupError(f"no reference for model {args.model!r}: build one with driftline reference build "
                              f"--model {args.model} --data FILE")
        return reference

    def show(reference: Any) -> None:
        spec = resolve_spec(args.model, reference, specs, ModelSpec())
        window = spec.window
        size = args.window_size or (window.size if window.kind == "count" else DEFAULT_SHOW_WINDOW)
        say("\n".join(reference_lines(reference, spec, window_size=size)))

    return on_redis_state(fetch, show, errors=(LookupError,))


def reference_lines(reference: Any, spec: Any, *, window_size: int) -> list[str]:
    r"""The reference and, per feature ``spec`` (resolved) monitors and effect test, its bars for windows of
    ``window_size`` events.

    >>> import numpy as np
    >>> from driftline.config import ModelSpec
    >>> from driftline.detectors import ModelReference, resolve_spec
    >>> regions = np.repeat([0.0, 2.0], 2000) + np.random.default_rng(0).normal(size=4000)
    >>> ref = ModelReference.build("m", "v1", {"x": regions}, ordered=True)
    >>> lines = reference_lines(ref, resolve_spec("m", ref, {}, ModelSpec()), window_size=400)
    >>> print("\n".join(lines[:5]))
    reference m version v1: 1 feature (1 numeric, 0 categorical)
      in order: 80 chunks of 50 rows; windows of up to 1300 events are also held to its own variability
    bars for windows of 400 events, ert 1,000,000 windows per test
      (a window warns at the largest of calibrated, variability and floor; critical at the band too)
      feature  test         calibrated  variability   floor  warning (rule)        critical
    >>> lines[5].split()[:2], lines[5].split()[-2]
    (['x', 'psi'], '(variability)')
    """
    from driftline.detectors import CategoricalReference, reference_bars

    categorical = sum(isinstance(f, CategoricalReference) for f in reference.features.values())
    count = len(reference.features)
    lines = [f"reference {reference.model_id} version {reference.version}: {count} feature{'s' * (count != 1)} "
             f"({len(reference.features) - categorical} numeric, {categorical} categorical)",
             f"  {_order_summary(reference)}" if reference.ordered else
             "  not ordered: windows are held to the calibrated bars (build with --time-column or --ordered to "
             "also hold them to the reference's own variability)"]
    thresholds = spec.thresholds
    if thresholds.mode != "calibrated":
        return [*lines, "thresholds: fixed (the spec's constants; no calibrated or variability bars)"]
    bars = reference_bars(reference, spec, window_size=window_size)
    width = max([len("feature"), *(len(name) for name, _ in bars)])
    lines.append(f"bars for windows of {window_size} events, ert {thresholds.ert_windows:,.0f} windows per test")
    lines.append("  (a window warns at the largest of calibrated, variability and floor; critical at the band too)")
    lines.append(f"  {'feature':<{width}}  {'test':<11}  {'calibrated':>10}  {'variability':>11}  {'floor':>6}  "
                 f"{'warning (rule)':<20}  {'critical':>8}")
    for name, bar in bars:
        variability = "-" if bar.variability is None else f"{bar.variability:.4f}"
        warning = f"{bar.warning:.4f} ({bar.rule('warning')})"
        lines.append(f"  {name:<{width}}  {bar.test:<11}  {bar.calibrated:>10.4f}  {variability:>11}  "
                     f"{bar.floor:>6.3f}  {warning:<20}  {bar.critical:>8.4f}")
    return lines


def _positive(text: str) -> int:
    """A whole number above 0, for --window-size."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return value


def code_like(numeric: dict[str, Any]) -> list[str]:
    """The numeric columns that look like codes: 3 to 20 distinct integer values, none of them a 0/1 flag.

    >>> import numpy as np
    >>> code_like({"region": np.array([3.0, 7.0, 12.0, 3.0]), "flag": np.array([0.0, 1.0]),
    ...            "amount": np.array([1.5, 2.0, 3.0])})
    ['region']
    """
    import numpy as np

    found = []
    for name, column in sorted(numeric.items()):
        values = np.unique(column[np.isfinite(column)])
        if 3 <= values.size <= 20 and bool(np.all(values == np.round(values))):
            found.append(name)
    return found


def _names(csv_list: str) -> list[str]:
    """The names in a comma-separated list, blanks left out.

    >>> _names(" id, label,,")
    ['id', 'label']
    """
    return [name.strip() for name in csv_list.split(",") if name.strip()]
