"""Reducing a series of (step, value) points to one number: last, best, min or max."""

from __future__ import annotations

from collections.abc import Sequence


def reduce_index(values: Sequence[float], reduce: str, direction: str) -> int:
    """The index of the chosen point; `best` means min or max by the metric's direction.

    Ties go to the later point: after a plateau the newer weights are the ones kept."""
    if not values:
        raise ValueError("empty series")
    if reduce == "best":
        reduce = "min" if direction == "lower" else "max"
    if reduce == "last":
        return len(values) - 1
    pick = min if reduce == "min" else max
    target = pick(values)
    return max(i for i, v in enumerate(values) if v == target)


def as_number(value: object) -> float | None:
    """A finite-or-infinite float from a JSON value; None for bools, text and NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value)
