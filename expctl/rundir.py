"""The run-folder contract: every file of `runs/<id>/`, one time format, and the records that
phases leave for each other. Phases read each other's results only through this module.

    runs/<id>/
      run.yaml                 who the run is (expctl.runs.RunInfo), written by `new`
      config.yaml              the resolved recipe, written by `new`
      git.patch, untracked.txt uncommitted changes when the run was created
      environment.txt          python, packages, torch/CUDA, GPUs
      experiment_hypothesis.md the documentation template
      training_command.txt     the exact command launched
      launch.json              the launch record: what the supervisor runs (written by launch)
      metrics.jsonl            written by the training script through expctl.track
      training_logs/stdout.log everything the job printed
      training_logs/job.json   the exit record, written by the supervisor only
      training_logs/job.<n>.json  the exit record of an earlier attempt (kept by --resume)
      training_logs/gathered.json the gather manifest
      training_logs/cycle.log  what `cycle` did, phase by phase
      checkpoints/final_model.ckpt  the gathered final checkpoint
      validation_results/validation_output.log  the validation's whole output
      validation_results/validation.json        the validation record
      validation_results/metrics_summary.txt, evaluation_info.txt  written by record
      experiment_results.json  final metrics, deltas, verdicts, written by record
      attempts/<n>/config.yaml the config attempt n ran with, kept by `launch --resume --set`
                               (config.yaml is always the latest attempt's)
      results_history/experiment_results.<n>.json  earlier results, kept by
                               `record --refresh-sources` before it records the run again
      annotations.yaml         tags and notes (expctl tag, expctl note)
    runs/.archive/<id>/        an archived run (expctl archive): kept, never indexed

Standard library only (the supervisor and expctl.track import it and must start fast).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RUN_FILE = "run.yaml"
CONFIG_FILE = "config.yaml"
PATCH_FILE = "git.patch"
UNTRACKED_FILE = "untracked.txt"
ENVIRONMENT_FILE = "environment.txt"
HYPOTHESIS_FILE = "experiment_hypothesis.md"
COMMAND_FILE = "training_command.txt"
LAUNCH_FILE = "launch.json"
METRICS_FILE = "metrics.jsonl"
RESULTS_FILE = "experiment_results.json"
ANNOTATIONS_FILE = "annotations.yaml"  # tags and notes
ARCHIVE_DIR = ".archive"  # runs/.archive/<id>: archived runs (no run id starts with ".")
SUBDIRS = ("checkpoints", "confusion_matrices", "training_logs", "validation_results")
ATTEMPTS_DIR = "attempts"
RESULTS_HISTORY_DIR = "results_history"

LOG_FILE = "training_logs/stdout.log"
JOB_FILE = "training_logs/job.json"
EARLIER_JOB_GLOB = "training_logs/job.[0-9]*.json"
SUPERVISOR_LOG = "training_logs/supervisor.log"  # the supervisor's own errors, if any
MANIFEST_FILE = "training_logs/gathered.json"
CYCLE_LOG = "training_logs/cycle.log"
EXIT_RECORD_BYTES = 8192  # job.json's size on disk: room for the exit record on a full disk
FINAL_CHECKPOINT = "checkpoints/final_model.ckpt"
VALIDATION_LOG = "validation_results/validation_output.log"
VALIDATION_RECORD = "validation_results/validation.json"
SUMMARY_FILE = "validation_results/metrics_summary.txt"
INFO_FILE = "validation_results/evaluation_info.txt"


def attempt_config_path(run_dir: Path, attempt: int) -> Path:
    """Where the config of an earlier attempt is kept."""
    return run_dir / ATTEMPTS_DIR / str(attempt) / CONFIG_FILE


# --- time --------------------------------------------------------------------------------------


def now_iso() -> str:
    """The one time format of every record: local time with its UTC offset, to the millisecond."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="milliseconds")


def parse_iso(text: Any) -> float | None:
    """Seconds since the epoch for a recorded ISO time (None for None or garbage)."""
    if not text or not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


# --- JSON records --------------------------------------------------------------------------------


def read_json_file(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`, or None when it is missing, unreadable or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json_atomic(path: Path, data: dict[str, Any], durable: bool = True,
                      pad_to: int = 0) -> None:
    """Replace `path` so readers see the whole old or the whole new record, never half.
    `durable` also survives a power cut (fsync, ~10 ms): skipped only where speed matters.
    `pad_to` pads the file with spaces to that many bytes (see write_exit_record)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(_padded(json.dumps(data, indent=2), pad_to))
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # e.g. the disk is full: leave no half-written file
        raise


def write_exit_record(path: Path, data: dict[str, Any]) -> None:
    """Write the exit record (job.json), reserving EXIT_RECORD_BYTES on disk: when the disk is
    full later (a job that filled it), the final record overwrites that space in place,
    needing no new blocks, so a job that exited 0 is still `finished`."""
    try:
        write_json_atomic(path, data, pad_to=EXIT_RECORD_BYTES)
    except OSError:
        if not _overwrite_in_place(path, data):
            raise


def _padded(text: str, size: int) -> str:
    return text.ljust(size - 1) + "\n" if len(text) + 1 < size else text + "\n"


def _overwrite_in_place(path: Path, data: dict[str, Any]) -> bool:
    """Rewrite `path` within its current size (blocks it already has); False if it does
    not exist or the record does not fit."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return False
    text = json.dumps(data, indent=2)
    if len(text) + 1 > size:
        text = json.dumps(data)
        if len(text) + 1 > size:
            return False
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        return False
    try:
        os.pwrite(fd, _padded(text, size).encode("utf-8"), 0)
        os.fsync(fd)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def read_launch_record(run_dir: Path) -> dict[str, Any] | None:
    """launch.json: written by `launch`, read by the supervisor, status and gather."""
    return read_json_file(run_dir / LAUNCH_FILE)


def read_exit_record(run_dir: Path, launch: dict[str, Any] | None) -> dict[str, Any] | None:
    """The supervisor's exit record (job.json) of the current launch; an older attempt's
    record does not count. Its fields are described in expctl.launchers.supervisor."""
    job = read_json_file(run_dir / JOB_FILE)
    if job is None or launch is None or job.get("launch_id") != launch.get("launch_id"):
        return None
    return job


def earlier_exit_records(run_dir: Path) -> list[dict[str, Any]]:
    """The exit records of the attempts before a `launch --resume`, oldest first."""
    paths = sorted(run_dir.glob(EARLIER_JOB_GLOB),
                   key=lambda p: int(p.name.split(".")[1]) if p.name.split(".")[1].isdigit() else 0)
    return [record for p in paths if (record := read_json_file(p)) is not None]


def read_validation_record(run_dir: Path) -> dict[str, Any] | None:
    """validation.json (argv, cwd, started, ended, exit_code, process), or None when the run
    was never validated. Written by the validate phase."""
    return read_json_file(run_dir / VALIDATION_RECORD)


def write_validation_record(run_dir: Path, record: dict[str, Any]) -> None:
    path = run_dir / VALIDATION_RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, record)


def phase_workdir(workspace_root: Path, recipe: Any, phase: str) -> Path:
    """Where a phase's command runs (relative artifact globs are relative to it): the recipe's
    launch.workdir, or validate.workdir for validation, under the workspace."""
    workdir = recipe.launch.workdir
    if phase == "validate" and recipe.validation is not None and recipe.validation.workdir:
        workdir = recipe.validation.workdir
    return (workspace_root / workdir).resolve()


# --- the gather manifest ------------------------------------------------------------------------


def relative_to_run(path: Path, run_dir: Path) -> str:
    """`path` relative to the run folder (absolute when outside it)."""
    try:
        return str(path.resolve().relative_to(run_dir.resolve()))
    except ValueError:
        return str(path)


class Manifest:
    """training_logs/gathered.json: one entry per gathered file, with the source's size and
    modification time, so a second gather can tell "already here" from "changed", and a
    source moved away with `--move` still counts. Written by gather, read by record."""

    def __init__(self, run_dir: Path, entries: list[dict[str, Any]]):
        self.run_dir = run_dir
        self.path = run_dir / MANIFEST_FILE
        self.entries = entries
        self.changed = False

    @classmethod
    def load(cls, run_dir: Path) -> Manifest:
        data = read_json_file(run_dir / MANIFEST_FILE) or {}
        entries = data.get("entries", [])
        entries = entries if isinstance(entries, list) else []
        return cls(run_dir, [e for e in entries if isinstance(e, dict) and "dest" in e])

    def save(self) -> None:
        if self.changed:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self.path, {"version": 1, "entries": self.entries})

    def destinations(self) -> set[Path]:
        """Files gathered into the run folder: never sources of another gather."""
        own = {(self.run_dir / e["dest"]).resolve() for e in self.entries
               if e.get("action") != "in place"}
        return own | {(self.run_dir / FINAL_CHECKPOINT).resolve()}

    def entries_for(self, artifact: str, phase: str) -> list[dict[str, Any]]:
        return [e for e in self.entries
                if e.get("artifact") == artifact and e.get("phase") == phase]

    def unchanged(self, artifact: str, source: Path, dest: Path) -> bool:
        """The same source, not modified since, already gathered to `dest`."""
        if not dest.exists():
            return False
        stat = source.stat()
        where = relative_to_run(dest, self.run_dir)
        return any(e.get("artifact") == artifact and e.get("source") == str(source)
                   and e.get("dest") == where and e.get("size") == stat.st_size
                   and e.get("mtime_ns") == stat.st_mtime_ns for e in self.entries)

    def free_name(self, dest: Path, artifact: str, source: Path, phase: str) -> Path:
        """`dest`, unless another source was gathered there: then `name_<phase>[_n].ext`, so a
        validation's confusion_matrix_latest.png never overwrites training's."""
        candidate, n = dest, 1
        while candidate.exists() and not self._owned_by(candidate, artifact, source):
            n += 1
            suffix = f"_{phase}" if n == 2 else f"_{phase}_{n - 1}"
            candidate = dest.with_name(f"{dest.stem}{suffix}{dest.suffix}")
        return candidate

    def _owned_by(self, dest: Path, artifact: str, source: Path) -> bool:
        where = relative_to_run(dest, self.run_dir)
        return any(e.get("dest") == where and e.get("artifact") == artifact
                   and e.get("source") == str(source) for e in self.entries)

    def add(self, artifact: str, phase: str, source: Path, dest: Path, action: str) -> None:
        """Note one gathered file (an unchanged re-gather keeps the first entry)."""
        where = relative_to_run(dest, self.run_dir)
        try:
            stat = dest.stat() if action == "moved" else source.stat()
        except OSError:
            return
        previous = next((e for e in self.entries if e.get("dest") == where), None)
        now = (artifact, str(source), stat.st_size, stat.st_mtime_ns)
        if previous is not None and tuple(
                previous.get(k) for k in ("artifact", "source", "size", "mtime_ns")) == now:
            return
        entry = {"artifact": artifact, "phase": phase, "source": str(source), "dest": where,
                 "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                 "action": action, "gathered": now_iso()}
        if previous is not None:
            self.entries.remove(previous)
        self.entries.append(entry)
        self.changed = True
