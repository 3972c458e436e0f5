"""Nested dicts addressed by dotted keys (`train.max_steps`)."""

from __future__ import annotations

from typing import Any

_MISSING = object()


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists and scalars are leaves."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def get_path(data: dict, path: str, default: Any = _MISSING) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            if default is _MISSING:
                raise KeyError(path)
            return default
        node = node[part]
    return node


def has_path(data: dict, path: str) -> bool:
    return get_path(data, path, _ABSENT) is not _ABSENT


_ABSENT = object()  # a default that no stored value can be


def set_path(data: dict, path: str, value: Any) -> None:
    """Set a dotted key, creating intermediate dicts."""
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def deep_merge(base: dict, override: dict) -> dict:
    """A new dict: `override` wins; nested dicts merge, lists and scalars are replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
