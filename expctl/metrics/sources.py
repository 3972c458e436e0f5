"""Reading a recipe's metric sources: each source file or glob gives named metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expctl.errors import ExpctlError, MissingToolError
from expctl.metrics.context import expand, newest, render_pattern
from expctl.recipes import MetricSource, Recipe

Direction = Callable[[str], str]


# What to install when a source's reader needs a package that is missing, by source kind.
INSTALL_COMMANDS = {"tensorboard": "pip install 'expctl[tensorboard]'"}


@dataclass
class SourceReading:
    """What one source gave: values, and what it was asked for but did not find."""

    kind: str
    pattern: str  # the rendered path pattern
    files: list[Path] = field(default_factory=list)
    values: dict[str, float] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    problem: str | None = None  # why nothing could be read at all
    notes: list[str] = field(default_factory=list)  # how the values were read
    gaps: list[str] = field(default_factory=list)  # what is unmeasured or partial, and why
    package: str | None = None  # a package the reader needs that is not installed
    install: str | None = None  # the command that installs it

    @property
    def label(self) -> str:
        return f"{self.kind} {self.pattern}"


def read_source(source: MetricSource, recipe: Recipe, context: dict[str, Any], base: Path,
                direction: Direction) -> SourceReading:
    """Read one source; whatever goes wrong (a missing file, package or metric, a file that
    does not parse) is reported in the reading, never raised, so other sources still count."""
    reading = SourceReading(source.kind, source.path)
    wanted = list(source.metrics) + list(source.groups)
    try:
        reading.pattern = render_pattern(source.path, recipe, context)
        _read_into(reading, source, base, direction)
    except ModuleNotFoundError as exc:
        reading.package = (exc.name or "?").split(".")[0]
        reading.install = INSTALL_COMMANDS.get(source.kind, f"pip install {reading.package}")
        reading.problem = (f"needs the Python package `{reading.package}`, which is not "
                           f"installed (install it with: {reading.install})")
        reading.values = {}
    except ExpctlError as exc:
        reading.problem, reading.values = exc.message, {}
    except Exception as exc:  # noqa: BLE001 - any reader's failure is this source's alone
        reading.problem = f"could not be read ({type(exc).__name__}: {exc})"
        reading.values = {}
    reading.missing = [m for m in wanted if m not in reading.values]
    if not reading.values and reading.problem is None:
        reading.problem = "found no metrics in it"
    return reading


def _read_into(reading: SourceReading, source: MetricSource, base: Path,
               direction: Direction) -> None:
    paths = expand(reading.pattern, base)
    if not paths:
        reading.problem = "no file matches"
        return
    if source.kind == "tensorboard":
        from expctl.metrics.tensorboard import event_files, read_tensorboard

        reading.files = event_files(paths)
        if not reading.files:
            reading.problem = "no TensorBoard event files there"
        else:
            reading.values = read_tensorboard(reading.files, source.metrics, source.reduce,
                                              direction)
        return
    files = [p for p in paths if p.is_file()]
    if not files:
        reading.problem = "matches only folders"
        return
    reading.files = [newest(files)]  # several matches: the latest write is this run's
    if source.kind == "coco":
        from expctl.metrics.text import read_lines

        reading.values = _coco_values(read_lines(reading.files[0]), source, reading)
    else:
        reading.values = _read_file(source, reading.files[0], direction)


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
    from expctl.metrics.lightning import parse_lightning

    return _select(parse_lightning(lines) or {}, source.metrics)


def _select(found: dict[str, float], names: dict[str, str]) -> dict[str, float]:
    """A preset's values under the recipe's names (all of them when none are given)."""
    if not names:
        return dict(found)
    return {metric: found[key] for metric, key in names.items() if key in found}


def _coco_values(lines: list[str], source: MetricSource,
                 reading: SourceReading) -> dict[str, float]:
    """The overall preset values and the class-group means; the reading's notes get how the
    per-class blocks were numbered, its gaps which class ids a group missed."""
    from expctl.metrics.coco import POSITIONAL, group_mean, parse_coco

    summary = parse_coco(lines)
    if summary is None:
        return {}
    values = _select(summary.overall, source.metrics)
    if not source.groups:
        return values
    count = len(summary.per_class)
    if summary.numbering == POSITIONAL:
        reading.notes.append(f"class ids: by print order from 0 ({count} per-class blocks, "
                             "not every header names its class id)")
    else:
        printed = ", ".join(str(i) for i in summary.class_ids)
        reading.notes.append(f"class ids: as printed in the block headers ({printed})")
    by_class = summary.by_class()
    for metric, class_ids in source.groups.items():
        mean = group_mean(by_class, class_ids, missing=source.missing)
        if mean.value is not None:
            values[metric] = mean.value
        if mean.missing:
            absent = ", ".join(str(i) for i in mean.missing)
            what = ("not measured" if mean.value is None
                    else f"mean of the {len(class_ids) - len(mean.missing)} classes present")
            reading.gaps.append(f"group `{metric}`: class id(s) {absent} not in the output, "
                                f"{what} (missing: {source.missing})")
    return values


def read_sources(recipe: Recipe, context: dict[str, Any], base: Path,
                 direction: Direction) -> list[SourceReading]:
    """Every source of the recipe, in order; later sources win for a metric both give."""
    return [read_source(s, recipe, context, base, direction) for s in recipe.metrics.sources]


def check_packages(readings: list[SourceReading]) -> None:
    """MissingToolError naming each missing package and how to install it, if any."""
    lacking = [r for r in readings if r.package]
    if lacking:
        names = ", ".join(f"`{r.package}` ({r.label})" for r in lacking)
        commands = "; ".join(dict.fromkeys(r.install for r in lacking if r.install))
        raise MissingToolError(f"A metric source needs a Python package that is not installed: "
                               f"{names}.", hint=f"install it with: {commands}, then "
                               "`expctl record` the run again")
