"""Training rows in time order, for a reference whose own variability sets a bar (``reference build
--time-column``): its consecutive chunks are consecutive stretches of time only when its rows are sorted."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from driftline.streams.references.errors import ReferenceDataError


def by_time(rows: list[dict[str, Any]], column: str, *, source: str) -> list[dict[str, Any]]:
    """``rows`` sorted by ``column`` (stable: rows of one time keep their order), the column itself left out of
    each row. A time is a number (epoch seconds, a day number, any ordered count) or an ISO 8601 date or time (a
    time without a zone is read as UTC); a row without one, or with another kind of value, is an error that names
    the row, as is a column that mixes numbers and dates.

    >>> rows = [{"t": "2026-03-02", "x": 2}, {"t": "2026-03-01T12:00:00Z", "x": 1}, {"t": "2026-03-03", "x": 3}]
    >>> [r["x"] for r in by_time(rows, "t", source="train.csv")], "t" in by_time(rows, "t", source="")[0]
    ([1, 2, 3], False)
    >>> by_time([{"t": 3}, {"t": "soon"}], "t", source="train.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    driftline.streams.references.errors.ReferenceDataError: train.csv: row 2: 'soon' in the time column 't' is ...
    """
    if not any(column in row for row in rows):
        names = sorted({name for row in rows for name in row})
        raise ReferenceDataError(f"{source}: no time column {column!r} (columns: {', '.join(names)})")
    keyed = []
    kinds = set()
    for number, row in enumerate(rows, start=1):
        kind, key = _time_key(row.get(column), column, f"{source}: row {number}")
        kinds.add(kind)
        keyed.append((key, {name: value for name, value in row.items() if name != column}))
    if len(kinds) > 1:
        raise ReferenceDataError(f"{source}: the time column {column!r} mixes numbers and dates; use one kind")
    keyed.sort(key=lambda pair: pair[0])
    return [row for _, row in keyed]


def _time_key(value: Any, column: str, where: str) -> tuple[str, float]:
    if value is None or value == "":
        raise ReferenceDataError(f"{where}: no value in the time column {column!r}; every row needs its time")
    if isinstance(value, datetime | date):
        return "date", _seconds(value)
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if math.isfinite(number):
            return "number", number
        if isinstance(value, str):
            try:
                return "date", _seconds(datetime.fromisoformat(value.strip()))
            except ValueError:
                pass
    raise ReferenceDataError(f"{where}: {value!r} in the time column {column!r} is neither a number nor an ISO 8601 "
                             f"date or time")


def _seconds(moment: date) -> float:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
