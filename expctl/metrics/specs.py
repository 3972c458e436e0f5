"""Where a metric's number format comes from: expctl.yaml's `metrics:`, the one definition.

Direction, scale, decimals, label and unit are set per workspace, not per recipe, so that
commands which read only the registry (ls, leaderboard) show a metric exactly as commands that
read a run folder do. Fields left unset fall back to defaults: the direction to the metric's
name (names ending in loss, rmse, gap... are lower-is-better), the scale to 1.
"""

from __future__ import annotations

from expctl.numbers import MetricFormat
from expctl.registry.settings import read_settings
from expctl.workspace import Workspace


def metric_format(ws: Workspace, name: str) -> MetricFormat:
    """The metric's number format (see the module docstring)."""
    return read_settings(ws).format(name)


def metric_formats(ws: Workspace, names) -> dict[str, MetricFormat]:
    """The number formats of several metrics, by name."""
    return {name: metric_format(ws, name) for name in names}
