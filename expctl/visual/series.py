"""Every series a run logged, read from its folder: metrics.jsonl (expctl.track), TensorBoard
scalars in the folder, and the recipe's jsonl/tensorboard metric sources; plus a downsampling
for display that keeps every bucket's minimum and maximum, so a single spike stays visible."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from expctl.errors import BadInputError, ExpctlError
from expctl.metrics.series import as_number
from expctl.rundir import METRICS_FILE
from expctl.runs import Run
from expctl.track import read_records
from expctl.workspace import Workspace

X_AXES = ("step", "epoch", "time")
# Bookkeeping fields of a JSONL record: they are x axes, never curves.
BOOKKEEPING = ("step", "epoch", "time", "wall_time", "timestamp")


@dataclass
class Series:
    """One logged quantity of one run: points (x, y) in logging order."""

    run_id: str
    name: str
    source: str  # where it was read: "metrics.jsonl", "tensorboard", "jsonl train_log.jsonl"
    x: list[float]
    y: list[float]
    x_label: str  # what x is: "step", "epoch", "time (s)" or "record" (the record's index)
    skipped: int = 0  # points whose value is not a finite number (not drawable)
    logged: int = 0  # points before downsampling (0: not downsampled, all of them are here)


@dataclass
class RunSeries:
    """All series of one run, by name, and what could not be read."""

    run_id: str
    series: dict[str, Series] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def check_x(x: str) -> str:
    if x not in X_AXES:
        raise BadInputError(f"Unknown x axis `{x}`.", hint=f"use one of {', '.join(X_AXES)}")
    return x


def load_run_series(ws: Workspace, run: Run, x: str = "step",
                    max_points: int | None = None) -> RunSeries:
    """Every series of `run`: metrics.jsonl first, then TensorBoard, then the recipe's JSONL
    sources. A name already taken by an earlier source gets the later source in brackets.
    With `max_points`, longer series are downsampled as they are read (see `downsample`)."""
    found = RunSeries(run.id)
    _read_all(ws, run, x, found)
    for s in found.series.values():
        if max_points is not None and len(s.x) > max_points:
            s.logged = len(s.x)
            s.x, s.y = downsample(s.x, s.y, max_points)
        elif not isinstance(s.x, list):  # arrays while read: lists of plain numbers out
            s.x, s.y = s.x.tolist(), s.y.tolist()
    return found


def _read_all(ws: Workspace, run: Run, x: str, found: RunSeries) -> None:
    _add_all(found, _from_records(run.id, read_jsonl(run.path / METRICS_FILE),
                                  METRICS_FILE, x))
    jsonl_files, tb_files = _source_files(ws, run, found)
    from expctl.metrics.tensorboard import event_files

    tb_files = sorted({p.resolve() for p in event_files([run.path, *tb_files])})
    if tb_files:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:
            found.problems.append("tensorboard is not installed: its scalars are not shown")
        else:
            _add_all(found, _from_tensorboard(run.id, tb_files, x))
    for path in jsonl_files:
        label = f"jsonl {_shown(path, run)}"
        _add_all(found, _from_records(run.id, read_jsonl(path), label, x))


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSONL file as expctl.track.read_records reads them, parsed by orjson
    (five times faster: 100 runs x 10,000 lines) when it is installed and the file is clean."""
    try:
        import orjson
    except ImportError:
        return read_records(path)
    try:
        data = path.read_bytes().strip()
    except FileNotFoundError:
        return []
    if not data:
        return []
    try:
        values = orjson.loads(b"[" + data.replace(b"\n", b",") + b"]")
    except orjson.JSONDecodeError:  # a torn line, a blank one, NaN: the careful reader
        return read_records(path)
    if len(values) != data.count(b"\n") + 1:
        return read_records(path)
    return [v for v in values if isinstance(v, dict)]


def _shown(path: Path, run: Run) -> str:
    try:
        return str(path.relative_to(run.path))
    except ValueError:
        return str(path)


def _add_all(found: RunSeries, series: list[Series]) -> None:
    for s in series:
        name = s.name if s.name not in found.series else f"{s.name} [{s.source}]"
        s.name = name
        found.series.setdefault(name, s)


def _source_files(ws: Workspace, run: Run, found: RunSeries) -> tuple[list[Path], list[Path]]:
    """The files of the recipe's jsonl and tensorboard sources (metrics.jsonl left out)."""
    from expctl.metrics.context import expand, newest, render_pattern, run_context, run_recipe

    try:
        recipe = run_recipe(run)
    except ExpctlError:  # an imported run's config need not be a recipe
        return [], []
    context = run_context(ws, run, recipe)
    jsonl: list[Path] = []
    tensorboard: list[Path] = []
    own = (run.path / METRICS_FILE).resolve()
    for source in recipe.metrics.sources:
        if source.kind not in ("jsonl", "tensorboard"):
            continue
        try:
            paths = expand(render_pattern(source.path, recipe, context), run.path)
        except ExpctlError as exc:
            found.problems.append(f"{source.kind} {source.path}: {exc.message}")
            continue
        if source.kind == "tensorboard":
            tensorboard.extend(paths)
            continue
        files = [p for p in paths if p.is_file()]
        if files:  # as `record` reads it: the newest match is this run's
            path = newest(files)
            if path.resolve() != own and path not in jsonl:
                jsonl.append(path)
    return jsonl, tensorboard


def _from_records(run_id: str, records: list[dict], source: str, x: str) -> list[Series]:
    """Series of every numeric top-level field of JSONL records (expctl.track's shape); text
    and nested values are not series. Column by column, at C speed where a column is whole."""
    import numpy as np

    columns = _columns(records)
    xs, label = _record_x(columns, len(records), x)
    x_array = np.asarray(xs) if _all_numbers(xs) else None
    series = []
    for name, column in columns.items():
        if name in BOOKKEEPING:
            continue
        s = Series(run_id, name, source, [], [], label)
        # A whole column of finite numbers stays an array (vector checks, no copies) until
        # load_run_series hands out lists; None, text or bools make it `object` or `bool`.
        values = np.asarray(column) if x_array is not None else None
        if values is not None and values.dtype.kind in "iuf" and np.isfinite(values).all():
            s.x, s.y = x_array, values.astype(float, copy=False)
        else:
            for xv, value in zip(xs, column, strict=True):
                if value is None or isinstance(value, bool) or \
                        not isinstance(value, (int, float)):
                    continue  # not logged here, or text/nested: not part of this series
                if xv is None or not math.isfinite(value):
                    s.skipped += 1
                    continue
                s.x.append(xv)
                s.y.append(float(value))
        if len(s.x):
            series.append(s)
    return series


def _columns(records: list[dict]) -> dict[str, list]:
    """field -> its value in each record (None where absent), in order of first appearance."""
    shapes = set(map(tuple, records))
    if len(shapes) == 1:  # every record has the same fields (expctl.track's usual lines)
        names = next(iter(shapes))
        return dict(zip(names, map(list, zip(*map(dict.values, records), strict=True)),
                        strict=True))
    names = dict.fromkeys(chain.from_iterable(records))
    return {n: [r.get(n) for r in records] for n in names}


def _all_numbers(values: list) -> bool:
    return set(map(type, values)) <= {int, float}  # no None, no bool, no text


def _record_x(columns: dict[str, list], count: int, x: str) -> tuple[list, str]:
    """x of each record: its step (else epoch, else index), epoch, or seconds since the first."""
    def field_values(key: str) -> list:
        column = columns.get(key, [None] * count)
        return column if _all_numbers(column) else [as_number(v) for v in column]

    if x == "time":
        times = field_values("time")
        start = next((t for t in times if t is not None), None)
        if start is not None:
            return [None if t is None else t - start for t in times], "time (s)"
    if x == "epoch" or x == "time":
        epochs = field_values("epoch")
        if any(e is not None for e in epochs):
            return epochs, "epoch"
    steps = field_values("step")
    if any(s is not None for s in steps):
        return steps, "step"
    epochs = field_values("epoch")
    if any(e is not None for e in epochs):
        return epochs, "epoch"
    return list(range(count)), "record"


def _from_tensorboard(run_id: str, files: list[Path], x: str) -> list[Series]:
    from expctl.metrics.tensorboard import read_scalars

    scalars = read_scalars(files, None)
    series = []
    for tag, points in scalars.items():
        if not points:
            continue  # an image, histogram or text tag
        start = points[0][0]
        label = "time (s)" if x == "time" else "step"
        s = Series(run_id, tag, "tensorboard", [], [], label)
        for wall, step, value in points:
            if not math.isfinite(value):
                s.skipped += 1
                continue
            s.x.append(wall - start if x == "time" else float(step))
            s.y.append(value)
        series.append(s)
    return sorted(series, key=lambda s: s.name)


def downsample(x, y, max_points: int) -> tuple[list, list[float]]:
    """At most about `max_points` points: the first, the last, and each bucket's minimum and
    maximum (buckets of equal point count), in order. Extremes are never dropped."""
    import numpy as np

    n = len(y)
    if n <= max_points or max_points < 4:
        return _listed(x), _listed(y)

    buckets = max(1, (max_points - 2) // 2)
    size = math.ceil(n / buckets)
    buckets = math.ceil(n / size)
    values = np.asarray(y, dtype=float)
    padded = np.full(buckets * size, np.inf)
    padded[:n] = values
    lows = padded.reshape(buckets, size).argmin(axis=1)
    padded[n:] = -np.inf
    highs = padded.reshape(buckets, size).argmax(axis=1)
    offsets = np.arange(buckets) * size
    keep = np.unique(np.concatenate(([0, n - 1], lows + offsets, highs + offsets))).tolist()
    return _picked(x, keep), _picked(y, keep)  # the points as logged, none invented


def _listed(values) -> list:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _picked(values, keep: list[int]) -> list:
    if hasattr(values, "tolist"):
        return values[keep].tolist()
    return [values[i] for i in keep]
