"""A results JSON file: metrics addressed by key paths such as `test.bbox.mAP` or `ap.0`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from expctl.files import read_json
from expctl.metrics.series import as_number

_ABSENT = object()


def _index(part: str, length: int) -> int | None:
    """A list index written in a key path (`0`, `-1`), if it is one and in range."""
    try:
        index = int(part)
    except ValueError:
        return None
    return index if -length <= index < length else None


def lookup(data: Any, key_path: str) -> Any:
    """Follow a dotted path through dicts and lists; an exact key with dots wins first."""
    if isinstance(data, dict) and key_path in data:
        return data[key_path]
    node = data
    for part in key_path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and _index(part, len(node)) is not None:
            node = node[_index(part, len(node))]
        else:
            return _ABSENT
    return node


def read_json_metrics(path: Path, keys: dict[str, str]) -> dict[str, float]:
    """metric -> the number at its key path; keys that are missing or not numbers are left out."""
    data = read_json(path)
    values: dict[str, float] = {}
    for metric, key in keys.items():
        number = as_number(lookup(data, key))
        if number is not None:
            values[metric] = number
    return values
