"""`expctl import`: runs whose results were obtained elsewhere, from a CSV or JSONL file.

    CSV:    id,small_map,map        one column per metric; an empty cell is a missing value
            3scale_baseline,0.1728,0.3402
    JSONL:  {"id": "3scale_baseline", "metrics": {"small_map": 0.1728}, "params": {"lr": 0.001}}

Every row is validated before anything is written: a bad value names its line (and column),
and nothing changes. Each run becomes a folder marked `imported: true` (run.yaml, config.yaml
with the params, experiment_results.json); importing an id again merges its metrics and
replaces its params (when the line gives params). The registry is updated in one transaction.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expctl.errors import BadInputError, ConflictError
from expctl.workspace import Workspace

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass
class ImportRow:
    """One validated line of the file."""

    id: str
    where: str  # "file:line" for messages
    metrics: dict[str, float]
    params: dict[str, Any] | None  # None: the line gave none (kept on re-import)


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


# --- reading and validating --------------------------------------------------------------------


def read_rows(path: Path) -> list[ImportRow]:
    """All rows of a CSV or JSONL file, validated; raises BadInputError naming the first bad one."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        from expctl.errors import NotFoundError

        raise NotFoundError(f"File `{path}` does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"Cannot read `{path}`: {exc}.") from None
    first = text.lstrip()[:1]
    if path.suffix.lower() in JSONL_SUFFIXES or first == "{":
        rows = _jsonl_rows(path, text)
    else:
        rows = _csv_rows(path, text)
    if not rows:
        raise BadInputError(f"`{path}` holds no runs.")
    seen: dict[str, str] = {}
    for row in rows:
        if row.id in seen:
            raise BadInputError(
                f"{row.where}: run `{row.id}` appears twice (first at {seen[row.id]}).")
        seen[row.id] = row.where
    return rows


def _csv_rows(path: Path, text: str) -> list[ImportRow]:
    from expctl.ids import check_metric_name, check_run_id

    reader = csv.reader(text.splitlines())
    header = [h.strip() for h in next(reader, [])]
    if "id" not in header:
        raise BadInputError(f"{path}:1: the header has no `id` column.",
                            hint="write a first line like: id,small_map,map")
    id_col = header.index("id")
    for name in header:
        if name != "id":
            _at(f"{path}:1", check_metric_name, name)
    if len(set(header)) != len(header):
        raise BadInputError(f"{path}:1: a column name appears twice.")
    rows = []
    for line_no, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        where = f"{path}:{line_no}"
        if len(cells) != len(header):
            raise BadInputError(f"{where}: {len(cells)} cells for {len(header)} columns.")
        run_id = _at(where, check_run_id, cells[id_col].strip())
        metrics = {}
        for name, cell in zip(header, cells, strict=True):
            cell = cell.strip()
            if name == "id" or not cell:
                continue
            metrics[name] = _number(cell, f"{where}: column `{name}`")
        rows.append(ImportRow(run_id, where, metrics, None))
    return rows


def _jsonl_rows(path: Path, text: str) -> list[ImportRow]:
    from pydantic import ValidationError

    from expctl.files import describe_validation_error
    from expctl.ids import check_metric_name, check_run_id

    model = _line_model()
    rows = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{line_no}"
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise BadInputError(f"{where}: invalid JSON: {exc}.") from None
        try:
            item = model.model_validate(data)
        except ValidationError as exc:
            raise BadInputError(f"{where}: {describe_validation_error(exc)}") from None
        run_id = _at(where, check_run_id, item.id)
        for name in item.metrics:
            _at(where, check_metric_name, name)
        params = item.params if "params" in item.model_fields_set else None
        rows.append(ImportRow(run_id, where, dict(item.metrics), params))
    return rows


_MODEL = None


def _line_model():
    """The pydantic model of one JSONL line (built on first use: pydantic is slow to import)."""
    global _MODEL
    if _MODEL is None:
        from typing import Annotated

        from pydantic import BaseModel, ConfigDict, Field

        class ImportLine(BaseModel):
            model_config = ConfigDict(extra="forbid", strict=True)

            id: str
            metrics: dict[str, Annotated[float, Field(allow_inf_nan=False)]] = Field(
                default_factory=dict)
            params: dict[str, Any] = Field(default_factory=dict)

        _MODEL = ImportLine
    return _MODEL


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadInputError(f"{where}: `{text}` is not a number.") from None
    if not math.isfinite(value):
        raise BadInputError(f"{where}: `{text}` is not a finite number.")
    return value


def _at(where: str, check, value: str) -> str:
    """Run an id/name check, prefixing its message with the file position."""
    try:
        return check(value)
    except BadInputError as exc:
        raise BadInputError(f"{where}: {exc.message}", exc.hint) from None


# --- writing -----------------------------------------------------------------------------------


def import_runs(ws: Workspace, path: Path, recipe: str | None = None) -> ImportResult:
    """Validate the whole file, write the run folders, then index them in one transaction.

    Each run is written under its folder's lock (the one `record` takes), and a new folder is
    created under the lock of runs/, so imports of one id at once all land; the index is then
    read from the folders under the registry's write lock, so it ends with the newest files."""
    from expctl.ids import check_recipe_name
    from expctl.registry import index_runs, open_registry

    if recipe is not None:
        check_recipe_name(recipe)
    rows = read_rows(path)
    _existing_infos(ws, rows)  # every conflict refused before anything is written
    with open_registry(ws) as db:  # refuse a broken registry before writing any folder
        result = _write_folders(ws, rows, recipe, path.name)
        index_runs(ws, [row.id for row in rows], db)
    return result


def _existing_infos(ws: Workspace, rows: list[ImportRow]) -> dict[str, Any]:
    """run.yaml of the runs imported before; a run of the same id made by `new` is a conflict
    (checked again under the folder's lock when written)."""
    from expctl.files import read_yaml, validate
    from expctl.registry.folders import RUN_FILE
    from expctl.runs import RunInfo

    infos = {}
    for row in rows:
        info_path = ws.runs_dir / row.id / RUN_FILE
        if (ws.runs_dir / row.id).exists() and not info_path.is_file():
            raise ConflictError(f"{row.where}: `{ws.runs_dir / row.id}` exists but is not a run.")
        if not info_path.is_file():
            continue
        info = validate(RunInfo, read_yaml(info_path), str(info_path))
        if not info.imported:
            raise ConflictError(
                f"{row.where}: run `{row.id}` exists and was not imported.",
                hint="record its metrics with `expctl record`, or use another id",
            )
        infos[row.id] = info
    return infos


def _write_folders(ws: Workspace, rows: list[ImportRow], recipe: str | None,
                   source: str) -> ImportResult:
    from expctl.runs import locked, now_iso

    stamp = now_iso()
    result = ImportResult()
    ws.runs_dir.mkdir(parents=True, exist_ok=True)
    for row in rows:
        folder = ws.runs_dir / row.id
        with locked(ws.runs_dir):  # one creator of a run folder at a time
            created = _create_if_new(ws.runs_dir, row, recipe, stamp, source)
        if created:
            result.created.append(row.id)
            continue
        with locked(folder):  # read, merge and write as one step, like `record`
            _merge_into(folder, row, recipe, stamp, source)
        result.updated.append(row.id)
    # One sync for the whole import instead of one fsync per file: 30,000 fsyncs would take
    # most of the time budget of a 10,000-run import.
    if hasattr(os, "sync"):
        os.sync()
    return result


def _create_if_new(runs_dir: Path, row: ImportRow, recipe: str | None, stamp: str,
                   source: str) -> bool:
    """Create the run's folder if there is none (the caller holds runs/' lock)."""
    from expctl.registry.folders import RUN_FILE
    from expctl.runs import RunInfo

    folder = runs_dir / row.id
    if (folder / RUN_FILE).is_file():
        return False
    if folder.exists():
        raise ConflictError(f"{row.where}: `{folder}` exists but is not a run.")
    info = RunInfo(id=row.id, recipe=recipe, created=stamp, imported=True)
    _create_folder(runs_dir, row.id, _files(row.id, info, row.params or {}, row.metrics,
                                            stamp, source))
    return True


def _merge_into(folder: Path, row: ImportRow, recipe: str | None, stamp: str,
                source: str) -> None:
    """Merge the row into an imported run's folder (the caller holds the folder's lock)."""
    from expctl.files import read_yaml, validate
    from expctl.registry.folders import CONFIG_FILE, RUN_FILE, read_final_metrics
    from expctl.runs import RunInfo

    info_path = folder / RUN_FILE
    info = validate(RunInfo, read_yaml(info_path), str(info_path))
    if not info.imported:
        raise ConflictError(f"{row.where}: run `{row.id}` exists and was not imported.",
                            hint="record its metrics with `expctl record`, or use another id")
    if recipe is not None:
        info.recipe = recipe
    old_config = read_yaml(folder / CONFIG_FILE) if (folder / CONFIG_FILE).is_file() else {}
    old_params = old_config.get("params") if isinstance(old_config, dict) else None
    params = row.params if row.params is not None else (old_params or {})
    metrics = {**read_final_metrics(folder), **row.metrics}
    _replace_files(folder, _files(row.id, info, params, metrics, stamp, source))


def _files(run_id: str, info: Any, params: dict, metrics: dict[str, float], stamp: str,
           source: str) -> dict[str, str]:
    from expctl.registry.folders import CONFIG_FILE, RESULTS_FILE, RUN_FILE
    from expctl.runs import info_data

    return {
        RUN_FILE: _yaml(info_data(info)),
        CONFIG_FILE: _yaml({"params": params}),
        RESULTS_FILE: json.dumps({"run_id": run_id, "metrics": metrics, "recorded": stamp,
                                  "source": source}, indent=2) + "\n",
    }


def _yaml(data: Any) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True)


def _create_folder(runs_dir: Path, run_id: str, files: dict[str, str]) -> None:
    """A new run folder, assembled under a temporary name and renamed into place."""
    from expctl.files import shared_mode

    tmp = Path(tempfile.mkdtemp(prefix=f".import-{run_id}-", dir=runs_dir))
    try:
        os.chmod(tmp, shared_mode(folder=True))  # mkdtemp makes it 0700 whatever the umask
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        os.rename(tmp, runs_dir / run_id)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if (runs_dir / run_id).exists():  # `expctl new` made it meanwhile
            raise ConflictError(f"Run `{run_id}` appeared while importing it (made by "
                                "`expctl new`?); nothing was imported into it.") from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_files(folder: Path, files: dict[str, str]) -> None:
    """Each file replaced by rename, so a reader sees the old or the new one."""
    for name, text in files.items():
        tmp = folder / f".{name}.{os.getpid()}.import.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder / name)
