"""`expctl import`: runs whose results were obtained elsewhere, from a CSV or JSONL file.

    CSV:    id,small_map,map        one column per metric; an empty cell is a missing value
            3scale_baseline,0.1728,0.3402
    JSONL:  {"id": "3scale_baseline", "metrics": {"small_map": 0.1728}, "params": {"lr": 0.001}}

The file is streamed, never held whole: a first pass validates every line (a bad value names
its line and column, and nothing changes) and refuses conflicts; a second pass writes the run
folders and indexes them in batches, one registry transaction per batch. Each run becomes a
folder marked `imported: true` (run.yaml, config.yaml with the params,
experiment_results.json), assembled aside and renamed into place; importing an id again
merges its metrics and replaces its params (when the line gives params). A failure while
writing (a full disk) leaves the runs written so far complete and indexed; importing the same
file again finishes the rest.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from expctl.errors import BadInputError, ConflictError
from expctl.workspace import Workspace

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
BATCH = 1000  # runs written and indexed per registry transaction


@dataclass
class ImportRow:
    """One validated line of the file."""

    id: str
    where: str  # "file:line" for messages
    metrics: dict[str, float]
    params: dict[str, Any] | None  # None: the line gave none (kept on re-import)


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0


# --- reading and validating --------------------------------------------------------------------


def iter_rows(path: Path) -> Iterator[ImportRow]:
    """The rows of a CSV or JSONL file, validated one by one as they are read; raises
    BadInputError naming the first bad line (duplicates are checked by check_rows)."""
    with _open(path) as stream:
        first = _first_char(stream)
        if path.suffix.lower() in JSONL_SUFFIXES or first == "{":
            yield from _jsonl_rows(path, stream)
        else:
            yield from _csv_rows(path, stream)


def check_rows(ws: Workspace, path: Path) -> int:
    """First pass: every row valid, no id twice, no run of the same id made by `new`; returns
    the number of rows. Only the ids seen are kept, not the rows."""
    seen: dict[str, str] = {}
    for row in iter_rows(path):
        if row.id in seen:
            raise BadInputError(
                f"{row.where}: run `{row.id}` appears twice (first at {seen[row.id]}).")
        seen[row.id] = row.where.rpartition(":")[2]  # the line number: less to keep
        _check_existing(ws, row)
    if not seen:
        raise BadInputError(f"`{path}` holds no runs.")
    return len(seen)


def _open(path: Path) -> IO[str]:
    try:
        return open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - a context manager
    except FileNotFoundError:
        from expctl.errors import NotFoundError

        raise NotFoundError(f"File `{path}` does not exist.") from None
    except OSError as exc:
        raise BadInputError(f"Cannot read `{path}`: {exc}.") from None


def _first_char(stream: IO[str]) -> str:
    """The first non-blank character, the stream left at its start."""
    try:
        head = stream.read(4096)
        while head and not head.strip():
            more = stream.read(4096)
            if not more:
                break
            head = more
        stream.seek(0)
    except UnicodeDecodeError as exc:
        raise BadInputError(f"Cannot read `{stream.name}`: {exc}.") from None
    return head.lstrip()[:1]


def _lines(path: Path, stream: IO[str]) -> Iterator[str]:
    """The file's lines; bytes that are not UTF-8 are one BadInputError naming the file."""
    try:
        yield from stream
    except UnicodeDecodeError as exc:
        raise BadInputError(f"Cannot read `{path}`: {exc}.") from None


def _csv_rows(path: Path, stream: IO[str]) -> Iterator[ImportRow]:
    from expctl.ids import check_metric_name, check_run_id

    reader = csv.reader(_lines(path, stream))
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
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        where = f"{path}:{reader.line_num}"
        if len(cells) != len(header):
            raise BadInputError(f"{where}: {len(cells)} cells for {len(header)} columns.")
        run_id = _at(where, check_run_id, cells[id_col].strip())
        metrics = {}
        for name, cell in zip(header, cells, strict=True):
            cell = cell.strip()
            if name == "id" or not cell:
                continue
            metrics[name] = _number(cell, f"{where}: column `{name}`")
        yield ImportRow(run_id, where, metrics, None)


def _jsonl_rows(path: Path, stream: IO[str]) -> Iterator[ImportRow]:
    from pydantic import ValidationError

    from expctl.files import describe_validation_error
    from expctl.ids import check_metric_name, check_run_id

    model = _line_model()
    checked_names: set[str] = set()  # metric names repeat on every line: check each once
    for line_no, line in enumerate(_lines(path, stream), start=1):
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
            if name not in checked_names:
                checked_names.add(_at(where, check_metric_name, name))
        params = item.params if "params" in item.model_fields_set else None
        yield ImportRow(run_id, where, item.metrics, params)


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
    """Validate the whole file (first pass), then write its run folders and index them,
    BATCH runs per registry transaction (second pass).

    Each run is written under its folder's lock (the one `record` takes), and a new folder is
    created under the lock of runs/, so imports of one id at once all land; a batch is indexed
    under the registry's write lock from what was written, and a folder another command
    changed meanwhile is read again, so the index ends with the newest files."""
    from expctl.ids import check_recipe_name
    from expctl.registry import open_registry
    from expctl.registry.index import fill_if_empty, index_written

    if recipe is not None:
        check_recipe_name(recipe)
    expected = check_rows(ws, path)  # every bad line and conflict refused before writing
    result = ImportResult()
    with open_registry(ws) as db:  # refuse a broken registry before writing any folder
        fill_if_empty(ws, db)
        from expctl.runs import now_iso

        stamp = now_iso()
        ws.runs_dir.mkdir(parents=True, exist_ok=True)
        batch: list[tuple[Any, tuple | None]] = []
        seen = 0
        for row in iter_rows(path):
            seen += 1
            batch.append(_write_run(ws.runs_dir, row, recipe, stamp, path.name, result))
            if len(batch) == BATCH:
                index_written(ws, db, batch)
                batch = []
        index_written(ws, db, batch)
    if seen != expected:
        raise ConflictError(f"`{path}` changed while it was imported ({expected} runs checked, "
                            f"{seen} written).", hint="import it again once it is complete")
    # One sync for the whole import instead of one fsync per file: 300,000 fsyncs would take
    # most of the time budget of a 100,000-run import.
    if hasattr(os, "sync"):
        os.sync()
    return result


def _check_existing(ws: Workspace, row: ImportRow) -> None:
    """A run of the same id made by `new` is a conflict (checked again under the folder's
    lock when written); one imported before is fine."""
    from expctl.files import read_yaml, validate
    from expctl.registry.folders import RUN_FILE
    from expctl.runs import RunInfo

    folder = ws.runs_dir / row.id
    if not folder.exists():
        return
    info_path = folder / RUN_FILE
    if not info_path.is_file():
        raise ConflictError(f"{row.where}: `{folder}` exists but is not a run.")
    info = validate(RunInfo, read_yaml(info_path), str(info_path))
    if not info.imported:
        raise ConflictError(
            f"{row.where}: run `{row.id}` exists and was not imported.",
            hint="record its metrics with `expctl record`, or use another id",
        )


def _write_run(runs_dir: Path, row: ImportRow, recipe: str | None, stamp: str, source: str,
               result: ImportResult) -> tuple[Any, tuple | None]:
    """Write one run's folder; returns (the record to index, the folder's signature right
    after writing), or (its id, None) for a merged run, whose folder is read again."""
    from expctl.runs import locked

    folder = runs_dir / row.id
    with locked(runs_dir):  # one creator of a run folder at a time
        record = _create_if_new(runs_dir, row, recipe, stamp, source)
    if record is not None:
        from expctl.registry.index import folder_signature

        result.created += 1
        return record, folder_signature(folder)
    with locked(folder):  # read, merge and write as one step, like `record`
        _merge_into(folder, row, recipe, stamp, source)
    result.updated += 1
    return row.id, None


def _create_if_new(runs_dir: Path, row: ImportRow, recipe: str | None, stamp: str,
                   source: str) -> Any:
    """Create the run's folder if there is none (the caller holds runs/' lock); returns the
    registry record of what was written, None when the run exists."""
    from expctl.registry.folders import RUN_FILE, record_from, run_status
    from expctl.runs import Run, RunInfo

    folder = runs_dir / row.id
    if (folder / RUN_FILE).is_file():
        return None
    if folder.exists():
        raise ConflictError(f"{row.where}: `{folder}` exists but is not a run.")
    info = RunInfo(id=row.id, recipe=recipe, created=stamp, imported=True)
    params = row.params or {}
    files = _files(row.id, info, params, row.metrics, stamp, source, _new_info_yaml(info))
    _create_folder(runs_dir, row.id, files)
    return record_from(info, params=params, primary_metric=None, metrics=dict(row.metrics),
                       series={}, status=run_status(Run(folder, info)))


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
           source: str, info_yaml: str | None = None) -> dict[str, str]:
    from expctl.registry.folders import CONFIG_FILE, RESULTS_FILE, RUN_FILE
    from expctl.runs import info_data

    return {
        RUN_FILE: info_yaml or _yaml(info_data(info)),
        CONFIG_FILE: _yaml({"params": params}),
        RESULTS_FILE: json.dumps({"run_id": run_id, "metrics": metrics, "recorded": stamp,
                                  "source": source}, indent=2) + "\n",
    }


ID_PLACEHOLDER = "expctl-import-placeholder"
_info_templates: dict[tuple, tuple[str, str] | None] = {}


def _new_info_yaml(info: Any) -> str | None:
    """run.yaml of a run this import creates. Such runs differ only in their id, so the rest
    is dumped once per import and each id's own dump (quoted as YAML needs) put in its place:
    dumping all of run.yaml took a tenth of a 100,000-run import. None: dump it whole."""
    from expctl.runs import info_data

    key = (info.recipe, info.created)
    if key not in _info_templates:
        text = _yaml(info_data(info.model_copy(update={"id": ID_PLACEHOLDER})))
        line = _yaml({"id": ID_PLACEHOLDER})
        fits = text.startswith(line) and text.count(ID_PLACEHOLDER) == 1
        _info_templates[key] = (text, line) if fits else None
    template = _info_templates[key]
    if template is None:
        return None
    text, line = template
    return _yaml({"id": info.id}) + text[len(line):]


def _yaml(data: Any) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True)


def _create_folder(runs_dir: Path, run_id: str, files: dict[str, str]) -> None:
    """A new run folder, assembled under a temporary name and renamed into place."""
    tmp = _temporary_folder(runs_dir, run_id)
    try:
        for name, text in files.items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
        os.rename(tmp, os.path.join(runs_dir, run_id))
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if (runs_dir / run_id).exists():  # `expctl new` made it meanwhile
            raise ConflictError(f"Run `{run_id}` appeared while importing it (made by "
                                "`expctl new`?); nothing was imported into it.") from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _temporary_folder(runs_dir: Path, run_id: str) -> str:
    """A new hidden folder in runs/ for assembling a run: os.mkdir applies the umask itself
    (mkdtemp would make it 0700 and need a chmod); mkdtemp only when the name is taken."""
    tmp = os.path.join(runs_dir, f".import-{run_id}-{os.getpid()}")
    try:
        os.mkdir(tmp)
    except FileExistsError:  # left by a killed import whose pid this process reuses
        from expctl.files import shared_mode

        tmp = tempfile.mkdtemp(prefix=f".import-{run_id}-", dir=runs_dir)
        os.chmod(tmp, shared_mode(folder=True))
    return tmp


def _replace_files(folder: Path, files: dict[str, str]) -> None:
    """Each file replaced by rename, so a reader sees the old or the new one."""
    for name, text in files.items():
        tmp = folder / f".{name}.{os.getpid()}.import.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder / name)
