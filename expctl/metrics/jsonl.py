"""JSON-lines metric files: one object per step or epoch (expctl.track, train_log.jsonl)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from expctl.errors import BadInputError
from expctl.metrics.jsonfile import lookup
from expctl.metrics.series import as_number, reduce_index
from expctl.track import read_records


def _number(record: dict, field: str) -> float | None:
    return as_number(lookup(record, field))


def read_jsonl(path: Path, fields: dict[str, str], reduce: str,
               direction: Callable[[str], str], by: str | None = None) -> dict[str, float]:
    """metric -> value of its field (a key or dotted path) reduced over the records.

    With `by`, one record is chosen (the best/min/max/last by that metric) and every metric
    is read from it: "the AP gap at the epoch with the best AP", not the best gap anywhere."""
    records = read_records(path)
    if by is not None:
        if by not in fields:
            raise BadInputError(f"`by: {by}` names no metric of this source.",
                                hint=f"use one of {', '.join(fields)}")
        having = [r for r in records if _number(r, fields[by]) is not None]
        if not having:
            return {}
        series = [_number(r, fields[by]) for r in having]
        chosen = having[reduce_index(series, reduce, direction(by))]
        return {m: v for m, f in fields.items() if (v := _number(chosen, f)) is not None}
    values: dict[str, float] = {}
    for metric, field in fields.items():
        series = [v for r in records if (v := _number(r, field)) is not None]
        if series:
            values[metric] = series[reduce_index(series, reduce, direction(metric))]
    return values
