"""When a run's phases ran: the time windows that tell a run's own files from leftovers.

Training's window comes from the launchers' exit record (and the records of earlier attempts
kept by `launch --resume`); validation's from validate's record. Files modified outside the
window were written by someone else, however recent or well-named they look.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from expctl.errors import BadInputError, ConflictError, ExpctlError, NotFoundError
from expctl.launchers.jobfiles import same_process_alive
from expctl.rundir import (
    EARLIER_JOB_GLOB,
    JOB_FILE,
    LAUNCH_FILE,
    LOG_FILE,
    VALIDATION_LOG,
    VALIDATION_RECORD,
    earlier_exit_records,
    read_json_file,
    read_validation_record,
)
from expctl.runs import Run
from expctl.state import run_status
from expctl.workspace import Workspace

# The kernel stamps files from a clock that may lag the precise time by one tick (<= 10 ms),
# so a file written right at the start can look a hair older than the recorded start.
CLOCK_SLACK_S = 0.02


@dataclass(frozen=True)
class Window:
    """When a phase ran; files modified outside it belong to someone else."""

    phase: str
    start: float  # seconds since the epoch
    end: float
    # Earlier attempts of the same phase (a training resumed with `launch --resume`): their
    # files are this run's too, but not what other runs wrote between the attempts.
    earlier: tuple[tuple[float, float], ...] = ()

    def contains(self, mtime: float) -> bool:
        return any(start - CLOCK_SLACK_S <= mtime <= end
                   for start, end in ((self.start, self.end), *self.earlier))

    def describe(self) -> str:
        def fmt(t: float) -> str:
            return datetime.fromtimestamp(t).isoformat(sep=" ", timespec="seconds")

        more = f" (and {len(self.earlier)} earlier attempt(s))" if self.earlier else ""
        return f"{fmt(self.start)} to {fmt(self.end)}{more}"


def timestamp(value: Any) -> tuple[float, float] | None:
    """(seconds since the epoch, resolution) of a recorded time: a number, a datetime or an ISO
    string. The resolution is how much later the true moment may be (a time written to the
    second may be up to a second late), so a window's end can be widened by it."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value), 0.0
    if isinstance(value, datetime):
        return value.timestamp(), 0.0
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    fraction = re.search(r"T?\d{2}:\d{2}:\d{2}(?:\.(\d+))?", text)
    digits = len(fraction.group(1)) if fraction and fraction.group(1) else 0
    return moment.timestamp(), 10.0 ** -digits


def phase_window(ws: Workspace, run: Run, phase: str) -> Window:
    """The phase's window from its records: the supervisor's exit record for training, the
    validation record for validation. A phase still running or never run is an error."""
    if phase == "train":
        started, ended, state = _training_times(run)
    elif phase == "validate":
        record = read_validation_record(run.path)
        if record is None:
            raise NotFoundError(f"Run `{run.id}` has not been validated yet.",
                                hint=f"run `expctl validate {run.id}`")
        started, ended = record.get("started"), record.get("ended")
        state = "running" if ended is None else "finished"
    else:
        raise BadInputError(f"Unknown phase `{phase}`.", hint="use train or validate")
    if state == "running":
        raise ConflictError(f"Run `{run.id}` is still in its {phase} phase.",
                            hint=f"wait for it: `expctl wait {run.id}`")
    start, end = timestamp(started), timestamp(ended)
    if start is None or end is None:
        raise ExpctlError(f"Run `{run.id}` has no start and end time for its {phase} phase "
                          f"(state: {state}).",
                          hint="its supervisor may have been killed; see training_logs/")
    earlier = earlier_attempts(run) if phase == "train" else ()
    return Window(phase, start[0], end[0] + end[1], earlier)


def earlier_attempts(run: Run) -> tuple[tuple[float, float], ...]:
    """(start, end) of the attempts before a resume, from the records the launcher keeps."""
    found = []
    for record in earlier_exit_records(run.path):
        start, end = timestamp(record.get("started")), timestamp(record.get("ended"))
        if start is not None and end is not None:
            found.append((start[0], end[0] + end[1]))
    return tuple(found)


def _training_times(run: Run) -> tuple[Any, Any, str]:
    if not (run.path / LAUNCH_FILE).exists():
        raise NotFoundError(f"Run `{run.id}` has not been launched yet.",
                            hint=f"run `expctl launch {run.id}`")
    status = run_status(run)
    return status.started, status.ended, status.state


def activity_intervals(folder: Path) -> tuple[tuple[float, float], ...]:
    """(start, end) of every job a run folder records: training attempts and validation. A job
    still running ends now; one whose process died without a record, at its log's last write."""
    jobs = [(folder / JOB_FILE, "supervisor", folder / LOG_FILE),
            (folder / VALIDATION_RECORD, "process", folder / VALIDATION_LOG)]
    jobs += [(p, "supervisor", folder / LOG_FILE) for p in sorted(folder.glob(EARLIER_JOB_GLOB))]
    found = []
    for path, owner, log in jobs:
        record = read_json_file(path) or {}
        start, end = timestamp(record.get("started")), timestamp(record.get("ended"))
        if start is None:
            continue
        if end is not None:
            found.append((start[0], end[0] + end[1]))
        elif same_process_alive(record.get(owner) or {}) is False:
            found.append((start[0], max(start[0], _mtime(log))))
        else:
            found.append((start[0], time.time()))
    return tuple(found)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
