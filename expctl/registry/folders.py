"""Reading a run folder into the record the registry stores about it.

Everything the registry holds comes from here, so `reindex` (all folders) and `index_runs`
(some folders) give the same rows. YAML is parsed with libyaml when available (ten times
faster, which is what makes reindexing 10,000 runs quick); a file the fast parser rejects is
read again by expctl.files, whose error names the file and line.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from expctl.files import read_yaml
from expctl.flat import flatten
from expctl.registry.freshness import folder_stamp
from expctl.rundir import ANNOTATIONS_FILE, CONFIG_FILE, METRICS_FILE, RESULTS_FILE, RUN_FILE

SERIES_SKIP = ("step", "time", "epoch")  # bookkeeping fields of a metrics.jsonl record


@dataclass
class Series:
    """A metric logged over time, reduced to what a table needs."""

    last: float
    last_step: int | None
    min: float
    min_step: int | None
    max: float
    max_step: int | None
    count: int


@dataclass
class RunRecord:
    """What the registry stores about one run."""

    id: str
    status: str
    created: str
    recipe: str | None = None
    imported: bool = False
    steps: int | None = None
    primary_metric: str | None = None
    git_sha: str | None = None
    git_branch: str | None = None
    git_dirty: bool = False
    launcher: str | None = None
    session: str | None = None
    sweep: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # flattened keys
    metrics: dict[str, float] = field(default_factory=dict)  # final values
    series: dict[str, Series] = field(default_factory=dict)
    folder_mtime_ns: int | None = None  # the folder's stamp (freshness) before it was read
    tags: list[str] = field(default_factory=list)  # annotations.yaml

    @property
    def created_ts(self) -> float:
        try:
            return datetime.fromisoformat(self.created).timestamp()
        except ValueError:
            return 0.0


def run_folder_exists(runs_dir: Path, run_id: str) -> bool:
    return (runs_dir / run_id / RUN_FILE).is_file()


def read_record(runs_dir: Path, run_id: str) -> RunRecord:
    """The record of runs/<run_id>; raises ExpctlError for a missing or broken folder."""
    from expctl.runs import Run, RunInfo

    path = runs_dir / run_id
    info_path = path / RUN_FILE
    mtime_ns = folder_stamp(path)  # first: a change while reading shows as one
    if not info_path.is_file():
        from expctl.errors import NotFoundError

        raise NotFoundError(f"No run `{run_id}` in {runs_dir}.", hint="see `expctl ls`")
    info = _validated(RunInfo, read_yaml(info_path), info_path)
    check_id_matches(info.id, runs_dir, run_id)
    config = read_config(path / CONFIG_FILE)
    metrics_spec = config.get("metrics")
    run = Run(path, info)
    record = record_from(
        info,
        params=config.get("params") or {},
        primary_metric=metrics_spec.get("primary") if isinstance(metrics_spec, dict) else None,
        metrics=read_final_metrics(path),
        series=summarize_series(path / METRICS_FILE),
        status=run_status(run),
    )
    record.folder_mtime_ns = mtime_ns
    record.tags = read_tags(path)
    return record


def read_tags(path: Path) -> list[str]:
    """The run's tags from annotations.yaml (none without the file)."""
    if not (path / ANNOTATIONS_FILE).is_file():
        return []
    from expctl.annotations import read_tags as read

    return read(path)


def check_id_matches(info_id: str, runs_dir: Path, run_id: str) -> None:
    """Refuse a folder whose run.yaml names another run: indexed, it would take the other
    run's row (and its params twice over) while `show` could not find it by either name."""
    if info_id != run_id:
        from expctl.errors import BadInputError

        raise BadInputError(
            f"{runs_dir.name}/{run_id}/{RUN_FILE} says id `{info_id}` (a copied or renamed "
            "folder? fix the id in run.yaml)")


def read_config(config_path: Path) -> dict:
    """config.yaml as a mapping ({} when absent or empty); raises BadInputError naming the file
    when it, or its `params`, is something else: indexing it as "no params" would hide that."""
    from expctl.errors import BadInputError

    config = read_yaml(config_path) if config_path.is_file() else None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise BadInputError(f"{config_path}: expected a mapping, found {_kind(config)}.")
    params = config.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadInputError(f"{config_path}: `params` must be a mapping, not {_kind(params)}.")
    return config


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string"}.get(type(value), f"a {type(value).__name__}")


def record_from(info: Any, params: dict, primary_metric: str | None, metrics: dict[str, float],
                series: dict[str, Series], status: str) -> RunRecord:
    """A record from a RunInfo and the values read (or, for `import`, about to be written)."""
    git = info.git
    return RunRecord(
        id=info.id,
        status=status,
        created=info.created,
        recipe=info.recipe,
        imported=info.imported,
        steps=info.steps,
        primary_metric=primary_metric if isinstance(primary_metric, str) else None,
        git_sha=git.sha,
        git_branch=git.branch,
        git_dirty=git.dirty,
        launcher=info.launcher,
        session=info.session,
        sweep=getattr(info, "sweep", None),
        params=flatten(params) if isinstance(params, dict) else {},
        metrics=metrics,
        series=series,
    )


def run_status(run: Any) -> str:
    """The run's state, from the one function every command uses (expctl.state)."""
    from expctl.state import run_state

    return run_state(run)


def read_final_metrics(path: Path) -> dict[str, float]:
    """experiment_results.json's metrics, validated like expctl.runs.Results."""
    results_path = path / RESULTS_FILE
    if not results_path.is_file():
        return {}
    from expctl.files import read_json
    from expctl.runs import Results

    results = _validated(Results, read_json(results_path), results_path)
    return {k: float(v) for k, v in results.metrics.items() if math.isfinite(v)}


def summarize_series(path: Path) -> dict[str, Series]:
    """Last, lowest and highest point (with steps) of each numeric field of a metrics JSONL."""
    if not path.is_file():
        return {}
    from expctl.track import read_records

    series: dict[str, Series] = {}
    for index, record in enumerate(read_records(path)):
        step = record.get("step")
        step = step if isinstance(step, int) and not isinstance(step, bool) else index
        for name, value in record.items():
            if name in SERIES_SKIP or not _is_number(value):
                continue
            value = finite_float(value)
            if value is None:
                continue
            s = series.get(name)
            if s is None:
                series[name] = Series(value, step, value, step, value, step, 1)
                continue
            s.last, s.last_step, s.count = value, step, s.count + 1
            if value < s.min:
                s.min, s.min_step = value, step
            if value > s.max:
                s.max, s.max_step = value, step
    return series


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_float(value: float) -> float | None:
    """The number as a finite float; None for inf, nan and ints beyond a float's range
    (YAML and JSON read `1000...0` with 400 digits as an exact int, and float() overflows)."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def param_value(value: Any) -> tuple[str, float | None]:
    """A param as stored: text (strings as written, the rest as JSON) and number if numeric.

    A number without a finite float form keeps only its text, which still compares exactly."""
    if isinstance(value, str):
        return value, None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (repr(value) if isinstance(value, float) else str(value), finite_float(value))
    return json.dumps(value, separators=(",", ":"), default=str), None


def _validated(model: Any, data: Any, path: Path) -> Any:
    from expctl.files import validate

    return validate(model, data, str(path))
