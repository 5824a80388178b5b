"""Read training data (CSV, JSON lines, Parquet) into feature columns for a reference.

A column is numeric when its non-empty values parse as finite numbers — all of them, or all but at
most :data:`MAX_MISMATCHED_SHARE` (1 %) of them, which are then recorded as the reference's values of the
wrong type (a production column has its ``"N/A"`` and ``"error"`` too; a boolean is a number, true is 1) — and
categorical otherwise (strings, mixed) or when named in ``categorical`` (class ids, zip codes: numbers that are
names). The column named ``prediction`` becomes the ``__prediction__`` feature (prior drift). Columns named
in ``exclude`` (ids, labels, timestamps) and empty columns are left out and reported. A ``time_column`` puts the
rows in time order (:mod:`~driftline.streams.references.row_order`) and is no feature.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from driftline.config import PREDICTION_FEATURE, class_feature, top_class
from driftline.streams.ingest.decode import loads
from driftline.streams.ingest.errors import InvalidEvent
from driftline.streams.references.errors import ReferenceDataError
from driftline.streams.references.row_order import by_time


@dataclass(frozen=True)
class ReferenceColumns:
    numeric: dict[str, np.ndarray]
    skipped: dict[str, str]
    rows: int
    categorical: dict[str, list[Any]]
    mismatched: dict[str, int] = field(default_factory=dict)
    """Per numeric column, its values that are not numbers (NaN in the column, not counted missing)."""
    labelled: list[tuple[Any, Any]] = field(default_factory=list)
    """(prediction, label) of every row holding both, when a label column is named: the reference performance."""


def read_reference_data(
    path: Path,
    *,
    exclude: Iterable[str] = (),
    categorical: Iterable[str] = (),
    prediction: str | None = None,
    label: str | None = None,
    time_column: str | None = None,
) -> ReferenceColumns:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path)
    elif suffix in {".jsonl", ".ndjson"}:
        rows = _jsonl_rows(path, keep=time_column)
    elif suffix == ".parquet":
        rows = _parquet_rows(path)
    else:
        raise ReferenceDataError(f"{path}: unknown data format {suffix!r}; use .csv, .jsonl or .parquet")
    if not rows:
        raise ReferenceDataError(f"{path}: no rows")
    if time_column is not None:
        rows = by_time(rows, time_column, source=str(path))
    return columns_from_rows(rows, source=str(path), exclude=exclude, categorical=categorical, prediction=prediction,
                             label=label)


def columns_from_rows(
    rows: list[dict[str, Any]],
    *,
    source: str,
    exclude: Iterable[str] = (),
    categorical: Iterable[str] = (),
    prediction: str | None = None,
    label: str | None = None,
) -> ReferenceColumns:
    """Split rows into numeric and categorical columns (see the module's rules); ``source`` names
    the data in errors. ``label`` (with ``prediction``): the ground-truth column, left out of the features and
    paired with the prediction of each row that has both."""
    path = source
    if label is not None and prediction is None:
        raise ReferenceDataError(f"{path}: a label column ({label!r}) needs the prediction column it labels")
    excluded, forced = set(exclude) | ({label} if label else set()), set(categorical)
    if prediction is not None and "," in prediction:  # one probability column per class
        classes = [c.strip() for c in prediction.split(",") if c.strip()]
        absent = sorted(set(classes) - {name for row in rows for name in row})
        if absent:
            raise ReferenceDataError(f"{path}: no column {absent[0]!r} (the --prediction class columns)")
        rows = [{**row, PROBABILITIES: {c: row.get(c) for c in classes}} for row in rows]
        excluded |= set(classes)
        prediction = PROBABILITIES
    if prediction is not None:
        rows = _expand_probabilities(rows, prediction)
    present = {name for row in rows for name in row}
    missing = sorted((forced | ({prediction} if prediction else set()) | ({label} if label else set())) - present)
    if missing:
        raise ReferenceDataError(f"{path}: no column {missing[0]!r} (columns: {', '.join(sorted(present))})")
    numeric: dict[str, np.ndarray] = {}
    categories: dict[str, list[Any]] = {}
    skipped: dict[str, str] = {}
    mismatched: dict[str, int] = {}
    for name in sorted(present - excluded - {_MAP}):
        feature = PREDICTION_FEATURE if name == prediction else name
        raw = [row.get(name) for row in rows]
        values = [_number(v) for v in raw]
        wrong = sum(1 for v in values if v is None)
        filled = sum(1 for v in values if v is not _MISSING)
        if name in forced or wrong > MAX_MISMATCHED_SHARE * filled or wrong == filled:
            kept = [None if v is None or v == "" else v for v in raw]
            if all(v is None for v in kept):
                skipped[name] = "no values"
            else:
                categories[feature] = kept
            continue
        column = np.array([np.nan if v is _MISSING or v is None else v for v in values], dtype=np.float64)
        if not np.isfinite(column).any():
            skipped[name] = "no values"
            continue
        numeric[feature] = column
        if wrong:
            mismatched[feature] = wrong
    if not numeric and not categories:
        raise ReferenceDataError(f"{path}: no feature column (skipped: {', '.join(skipped) or 'none'})")
    labelled = _labelled(rows, prediction, label) if label and prediction else []
    return ReferenceColumns(numeric=numeric, skipped=skipped, rows=len(rows), categorical=categories,
                            mismatched=mismatched, labelled=labelled)


MAX_MISMATCHED_SHARE = 0.01
"""A numeric column may hold this share of values that are not numbers (its values of the wrong type)."""


PROBABILITIES = "__probabilities__"
"""The prediction column made of several probability columns (``--prediction cat,dog,eel``)."""


def _expand_probabilities(rows: list[dict[str, Any]], prediction: str) -> list[dict[str, Any]]:
    """Rows whose prediction is a ``{class: probability}`` map get one numeric column per class,
    ``__prediction__[<class>]`` (each class's distribution), and the prediction column their most likely class
    (the predicted-class mix); the map itself is kept apart for the labelled pairs.

    >>> (row,) = _expand_probabilities([{"p": {"cat": 0.7, "dog": 0.3}}], "p")
    >>> row["p"], row["__prediction__[cat]"], row["__prediction__[dog]"]
    ('cat', 0.7, 0.3)
    """
    if not any(isinstance(row.get(prediction), dict) for row in rows):
        return rows
    out = []
    for row in rows:
        value = row.get(prediction)
        if not isinstance(value, dict):
            out.append(row)
            continue
        probabilities = {str(c): _number(p) for c, p in value.items()}
        usable = {c: p for c, p in probabilities.items() if isinstance(p, float) and not math.isnan(p)}
        expanded = {**row, prediction: top_class(usable)}
        expanded.update({class_feature(c): p for c, p in probabilities.items()})
        expanded[_MAP] = usable
        out.append(expanded)
    return out


_MAP = "__probability_map__"


def _labelled(rows: list[dict[str, Any]], prediction: str, label: str) -> list[tuple[Any, Any]]:
    """(prediction, label) per row with both: a prediction that reads as a number is one (a CSV's "0.8")."""
    pairs = []
    for row in rows:
        said, truth = row.get(_MAP, row.get(prediction)), row.get(label)
        if said is None or said == "" or truth is None or truth == "":
            continue
        number = _number(said)
        pairs.append((number if isinstance(said, str) and number is not None and not math.isnan(number)
                      else said, truth))
    return pairs


_MISSING = float("nan")


def _number(value: Any) -> float | None:
    """A finite float, ``_MISSING`` for an empty cell, or None when the value is not a number."""
    if value is None or value == "":
        return _MISSING
    if isinstance(value, bool):  # a flag logged as a boolean: true is 1 (as in the stream)
        return float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _csv_rows(path: Path) -> list[dict[str, Any]]:
    try:
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise ReferenceDataError(f"{path}: cannot read CSV: {exc}") from None


def _jsonl_rows(path: Path, *, keep: str | None = None) -> list[dict[str, Any]]:
    rows = []
    try:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                row = loads(line)
                if not isinstance(row, dict):
                    raise ReferenceDataError(f"{path}:{number}: expected a JSON object per line")
                # A nested "features" map (PredictionEvent-shaped lines) is flattened; ``keep`` (the time column)
                # may be beside it.
                if isinstance(row.get("features"), dict):
                    row = {**row["features"], **({keep: row[keep]} if keep in row else {})}
                rows.append(row)
    except InvalidEvent as exc:
        raise ReferenceDataError(f"{path}: not JSON lines: {exc.reason}") from None
    except OSError as exc:
        raise ReferenceDataError(f"{path}: cannot read: {exc.strerror}") from None
    return rows


def _parquet_rows(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ReferenceDataError("reading Parquet needs pyarrow: pip install 'driftline[parquet]'") from None
    return list(pq.read_table(path).to_pylist())
