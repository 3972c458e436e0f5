"""Reading a recipe's metric sources: each source file or glob gives named metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expctl.metrics.context import expand, newest, render_pattern
from expctl.recipes import MetricSource, Recipe

Direction = Callable[[str], str]


@dataclass
class SourceReading:
    """What one source gave: values, and what it was asked for but did not find."""

    kind: str
    pattern: str  # the rendered path pattern
    files: list[Path] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    problem: str | None = None  # why nothing could be read at all

    @property
    def label(self) -> str:
        return f"{self.kind} {self.pattern}"


def read_source(source: MetricSource, recipe: Recipe, context: dict[str, Any], base: Path,
                direction: Direction) -> SourceReading:
    """Read one source; a missing file or metric is reported in the reading, not raised."""
    pattern = render_pattern(source.path, recipe, context)
    reading = SourceReading(source.kind, pattern)
    paths = expand(pattern, base)
    if not paths:
        reading.problem = "no file matches"
        reading.missing = list(source.metrics) + list(source.groups)
        return reading
    if source.kind == "tensorboard":
        from expctl.metrics.tensorboard import event_files, read_tensorboard

        reading.files = event_files(paths)
        if not reading.files:
            reading.problem = "no TensorBoard event files there"
        else:
            reading.values = read_tensorboard(reading.files, source.metrics, source.reduce,
                                              direction)
    else:
        files = [p for p in paths if p.is_file()]
        if not files:
            reading.problem = "matches only folders"
            reading.missing = list(source.metrics) + list(source.groups)
            return reading
        reading.files = [newest(files)]  # several matches: the latest write is this run's
        reading.values = _read_file(source, reading.files[0], direction)
    wanted = list(source.metrics) + list(source.groups)
    reading.missing = [m for m in wanted if m not in reading.values]
    if not reading.values and reading.problem is None:
        reading.problem = "found no metrics in it"
    return reading


def _read_file(source: MetricSource, path: Path, direction: Direction) -> dict[str, float]:
    kind = source.kind
    if kind == "jsonl":
        from expctl.metrics.jsonl import read_jsonl

        return read_jsonl(path, source.metrics, source.reduce, direction, source.by)
    if kind == "json":
        from expctl.metrics.jsonfile import read_json_metrics

        return read_json_metrics(path, source.metrics)
    from expctl.metrics.text import read_lines

    lines = read_lines(path)
    if kind == "regex":
        from expctl.metrics.regex import read_regex

        return read_regex(lines, source.metrics)
    if kind == "coco":
        return _coco_values(lines, source)
    from expctl.metrics.lightning import parse_lightning

    return _select(parse_lightning(lines) or {}, source.metrics)


def _select(found: dict[str, float], names: dict[str, str]) -> dict[str, float]:
    """A preset's values under the recipe's names (all of them when none are given)."""
    if not names:
        return dict(found)
    return {metric: found[key] for metric, key in names.items() if key in found}


def _coco_values(lines: list[str], source: MetricSource) -> dict[str, float]:
    from expctl.metrics.coco import group_mean, parse_coco

    summary = parse_coco(lines)
    if summary is None:
        return {}
    values = _select(summary.overall, source.metrics)
    for metric, class_ids in source.groups.items():
        mean = group_mean(summary.per_class, class_ids)
        if mean is not None:
            values[metric] = mean
    return values


def read_sources(recipe: Recipe, context: dict[str, Any], base: Path,
                 direction: Direction) -> list[SourceReading]:
    """Every source of the recipe, in order; later sources win for a metric both give."""
    return [read_source(s, recipe, context, base, direction) for s in recipe.metrics.sources]
