"""A run's state: the one entry point that `ls`, `show`, `status`, `wait`, `cycle`, the phases
and the registry use, so they cannot disagree. Derived from the run folder and the process
table (or Slurm) every time, never stored as the truth.

    created   never launched (no launch record)
    queued    waiting in the workspace queue (with the reason)
    blocked   queued, but a run it waits for failed: it will not start
    running   its job is alive (or has just been started)
    finished  the job exited with code 0
    failed    the job exited with another code
    killed    the job died of a signal, or was stopped (stop, Ctrl-C, its session killed)
    lost      no exit record and nothing of the job is left (e.g. the machine rebooted)
    imported  results brought in with `expctl import`; nothing ran here
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expctl.launchers.jobfiles import same_process_alive
from expctl.launchers.liveness import launch_processes
from expctl.launchers.status import JobStatus, add_progress, derive_status, status_text, watch_parts
from expctl.rundir import METRICS_FILE, read_validation_record

STATES = ("created", "queued", "blocked", "running", "finished", "failed", "killed", "lost",
          "imported")
VALIDATION_STATES = ("none", "running", "finished", "failed", "lost")
STYLES = {"created": "dim", "queued": "yellow", "blocked": "red", "running": "cyan",
          "finished": "green", "failed": "bold red", "killed": "red", "lost": "magenta",
          "imported": "blue"}


def run_status(run: Any, tail_bytes: int = 0) -> JobStatus:
    """The run's state with timing and, when `tail_bytes` > 0, progress and latest metrics."""
    if run.info.imported:
        return JobStatus("imported", planned_steps=run.info.steps)
    return derive_status(run, tail_bytes=tail_bytes)


@dataclass(frozen=True)
class IndexedFacts:
    """The two facts of run.yaml that deriving a state reads (`run.info.steps`, `.imported`)."""

    steps: int | None
    imported: bool = False


@dataclass(frozen=True)
class IndexedRun:
    """A run as its registry row knows it: its folder and the facts of run.yaml the state
    needs, so `ls` derives a state from the job's files without parsing run.yaml."""

    path: Path
    info: IndexedFacts


def indexed_run(runs_dir: Path, run_id: str, steps: int | None,
                imported: bool = False) -> IndexedRun:
    return IndexedRun(runs_dir / run_id, IndexedFacts(steps, imported))


def run_state(run: Any) -> str:
    """Just the word: one of STATES."""
    return run_status(run).state


def validation_state(run: Any) -> str:
    """The validation job's state, one of VALIDATION_STATES, by the same liveness rule as
    training: a record without an end whose process is gone is lost."""
    record = read_validation_record(run.path)
    if record is None:
        return "none"
    if record.get("ended") is None:
        alive = same_process_alive(record.get("process") or {})
        if alive is False and record.get("launch_id"):
            # `expctl validate` was killed, but its command may run on: it is still running.
            alive = bool(launch_processes(run.path, record["launch_id"]))
        return "lost" if alive is False else "running"
    return "finished" if record.get("exit_code") == 0 else "failed"


def refuse_while_training(run: Any, action: str) -> None:
    """ConflictError (exit 4) while the run's training job runs: what `action` would take
    as final (metrics, checkpoints) is half-trained. `--while-training` skips this check."""
    if getattr(run.info, "imported", False):
        return
    status = run_status(run)
    if status.state == "running":
        from expctl.errors import ConflictError

        raise ConflictError(
            f"Run `{run.id}` is still training ({status_text(status)}): `{action}` would take "
            "half-trained results as final.",
            hint=f"wait for it (`expctl wait {run.id}`), or pass --while-training to {action} "
                 "it anyway")


def status_cell(run: Any, loss=None):
    """The compact status cell for `expctl ls`: a console.Cell like `running 1.2k/100k`.
    `loss` is the loss's number format (expctl.numbers.MetricFormat), if known."""
    return cell_of(run_status(run), run.path, loss)


def cell_of(status: JobStatus, run_path: Path, loss=None):
    """The `ls` cell of a status already derived (without progress) for the run at
    `run_path`: a running job's progress and pace are read from a small tail of its metrics."""
    from expctl.console import Cell

    text = status_text(status)
    if status.state == "running":
        add_progress(status, run_path / METRICS_FILE, 4096)
        text = " · ".join([status_text(status), *watch_parts(status, loss)])
    return Cell(text, STYLES.get(status.state, ""))
