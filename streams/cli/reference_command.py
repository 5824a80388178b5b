"""``driftline reference build``: a model's reference (the baseline its windows are compared with), from its
training data, published for the workers. The detectors and the readers are imported in the run function."""

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
    build.set_defaults(run=run_reference_build)
    return reference


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
            label=args.label,
        )
        performance = performance_counters(columns.labelled, task=args.task, threshold=args.decision_threshold,
                                           source=str(args.data)) if args.label else None
    except (ValidationError, ReferenceDataError) as exc:
        err(str(exc))
        return 2
    draft = ModelReference.build(args.model, args.version or "draft", columns.numeric, n_bins=args.bins,
                                 categorical=columns.categorical, max_categories=args.max_categories,
                                 mismatched_of=columns.mismatched)
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
    return 0


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
