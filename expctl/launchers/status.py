"""A launched run's state, derived from its files and the process table, never stored.

    created   never launched (no launch.json)
    queued    waiting in the workspace queue (reason: no free GPU, waiting for a run, ...)
    blocked   in the queue, but a run it waits for failed: it will not start
    running   the supervisor is alive (or has just been started), or it died and a process
              of the job still runs (`orphan`, with a note): the job's liveness is the job's
    finished  the job exited with code 0
    failed    the job exited with another code (exit_code)
    killed    the job died of a signal, or was stopped (stop, Ctrl-C, its session killed)
    lost      no exit record, and neither the supervisor nor any process of the job is left
              (e.g. the machine rebooted); the note says what is known
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from expctl.launchers.jobfiles import same_process_alive
from expctl.launchers.liveness import job_alive
from expctl.launchers.record_types import check_job_record
from expctl.queue.store import WAITING, queue_dir_of_run, read_entry
from expctl.rundir import (
    JOB_FILE,
    METRICS_FILE,
    parse_iso,
    read_exit_record,
    read_launch_record,
)

START_GRACE_S = 30.0  # a launch without a supervisor record is "running" this long, then lost


@dataclass
class JobStatus:
    """What `expctl status` shows about a run's job."""

    state: str
    exit_code: int | None = None
    signal: str | None = None  # the signal that ended the job, or the stop signal it obeyed
    started: str | None = None
    ended: str | None = None
    elapsed_s: float | None = None
    pid: int | None = None  # the job's pid, which is also its process group id
    session: str | None = None
    launcher: str | None = None
    attempt: int | None = None
    supervisor_pid: int | None = None
    error: str | None = None  # e.g. the command could not be started
    last_step: int | None = None
    planned_steps: int | None = None
    eta_s: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    slurm_state: str | None = None  # Slurm's word for the job: PENDING, RUNNING, TIMEOUT, ...
    node: str | None = None  # where a Slurm job runs or ran
    reason: str | None = None  # why Slurm holds the job back (Priority, Resources, ...)
    orphan: bool = False  # the supervisor died while the job's processes live on
    note: str | None = None  # what is known beyond the state (e.g. the supervisor died)

    @property
    def active(self) -> bool:
        return self.state == "running"


def _exit_record(run_path, launch: dict[str, Any] | None) -> dict[str, Any] | None:
    """The current launch's exit record, its field types checked (a garbled one is one
    BadInputError naming the file, never a crash of whatever reads it)."""
    job = read_exit_record(run_path, launch)
    return None if job is None else check_job_record(job, run_path / JOB_FILE)


def derive_status(run: Any, tail_bytes: int = 65536) -> JobStatus:
    """The state of `run`'s job with timing, progress and the latest metric values.
    `tail_bytes` bounds how much of metrics.jsonl is read (0: skip metrics)."""
    entry = read_entry(queue_dir_of_run(run.path), run.path.name)
    if entry is not None and entry.state in WAITING:  # a queued --resume has a launch record
        return JobStatus(entry.state, reason=entry.reason, planned_steps=run.info.steps)
    launch = read_launch_record(run.path)
    if launch is None:
        return JobStatus("created", planned_steps=run.info.steps)
    job = _exit_record(run.path, launch)
    orphan, note = False, None
    if job is None:
        launched = parse_iso(launch.get("launched")) or 0.0
        state = "running" if time.time() - launched < START_GRACE_S else "lost"
        if state == "lost" and launch.get("launcher") != "slurm":  # Slurm: squeue says
            if job_alive(run.path, launch, None):
                state, orphan = "running", True
                note = "the supervisor died before recording the job, whose processes still run"
            else:
                note = "the supervisor never reported starting the job"
    elif job.get("state") == "ended":
        state = _ended_state(job)
    elif same_process_alive(job.get("supervisor") or {}) is False:
        # It may have written its exit record between our two looks.
        again = _exit_record(run.path, launch)
        if again is not None and again.get("state") == "ended":
            job, state = again, _ended_state(again)
        elif job_alive(run.path, launch, job):
            state, orphan = "running", True
            note = (f"its supervisor (pid {(job.get('supervisor') or {}).get('pid')}) died; "
                    "the job still runs, but its output is no longer logged")
        else:
            state = "lost"
            note = ("the job ended after its supervisor died; exit code unknown"
                    if job.get("job_pid") else "the supervisor died before starting the job")
    else:
        state = "running"  # alive, or on another host where we cannot look
    status = JobStatus(
        state,
        exit_code=(job or {}).get("exit_code"),
        signal=(job or {}).get("signal") or (job or {}).get("stop_signal"),
        started=(job or {}).get("started"),
        ended=(job or {}).get("ended"),
        pid=(job or {}).get("job_pid"),
        session=launch.get("session"),
        launcher=launch.get("launcher"),
        attempt=launch.get("attempt"),
        supervisor_pid=((job or {}).get("supervisor") or {}).get("pid"),
        error=(job or {}).get("error"),
        planned_steps=run.info.steps,
        orphan=orphan,
        note=note,
    )
    if launch.get("launcher") == "slurm":
        _add_slurm(status, run.path, launch, job)
    _add_timing(status, job)
    if tail_bytes:
        add_progress(status, run.path / METRICS_FILE, tail_bytes)
    return status


def _add_slurm(status: JobStatus, run_path, launch: dict[str, Any],
               job: dict[str, Any] | None) -> None:
    """Until the supervisor records an end, Slurm (or its batch script) knows best."""
    status.node = ((job or {}).get("supervisor") or {}).get("host")
    if job is not None and job.get("state") == "ended":
        return
    from expctl.launchers.slurm import slurm_view

    view = slurm_view(run_path, launch, job)
    status.state = view["state"]
    status.slurm_state = view.get("slurm_state")
    status.node = view.get("node") or status.node
    status.reason = view.get("reason")
    status.exit_code = view.get("exit_code", status.exit_code)
    status.signal = view.get("signal") or status.signal
    status.ended = view.get("ended") or status.ended


def _ended_state(job: dict[str, Any]) -> str:
    if job.get("signal") or job.get("stop_signal"):
        return "killed"
    return "finished" if job.get("exit_code") == 0 else "failed"


def _add_timing(status: JobStatus, job: dict[str, Any] | None) -> None:
    if job is None:
        return
    if job.get("elapsed_s") is not None:
        status.elapsed_s = float(job["elapsed_s"])
    else:
        started = parse_iso(status.started)
        if started is not None:
            status.elapsed_s = round(max(0.0, time.time() - started), 3)


def add_progress(status: JobStatus, metrics_path, tail_bytes: int) -> None:
    from expctl.track import read_last_records

    records = read_last_records(metrics_path, tail_bytes)
    latest: dict[str, Any] = {}
    for record in records:
        step = record.get("step")
        if isinstance(step, int) and not isinstance(step, bool):
            status.last_step = step
        latest.update((k, v) for k, v in record.items() if k not in ("step", "time"))
    status.metrics = latest
    step, planned, elapsed = status.last_step, status.planned_steps, status.elapsed_s
    if status.state == "running" and step and planned and elapsed and planned > step:
        status.eta_s = round(elapsed * (planned - step) / step, 1)


# --- compact forms for tables ------------------------------------------------------------------


def short_count(n: int) -> str:
    """1200 -> 1.2k, 100000 -> 100k, 2000000 -> 2m."""
    for unit, size in (("m", 1_000_000), ("k", 1_000)):
        if n >= size:
            text = f"{n / size:.1f}".removesuffix(".0")
            return text + unit
    return str(n)


def duration(seconds: float | None) -> str:
    """1h02m03s, 4m05s, 12.3s."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def status_text(status: JobStatus) -> str:
    """`running 1.2k/100k`, `failed (3)`, `killed (SIGINT)`, `finished`, ...; a Slurm job
    that has not ended: `PENDING (Priority)`, `RUNNING on gpu07 1.2k/100k`; a job whose
    supervisor died: `running (supervisor died)`."""
    text = _state_text(status)
    return text + " (supervisor died)" if status.orphan and status.state == "running" else text


def _state_text(status: JobStatus) -> str:
    if status.state in WAITING and status.reason:
        return f"{status.state} ({status.reason})"
    if status.state == "running" and status.slurm_state:
        words = [status.slurm_state]
        if status.node and status.slurm_state != "PENDING":
            words.append(f"on {status.node}")
        if status.reason and status.slurm_state != "RUNNING":
            words.append(f"({status.reason})")
        if status.last_step is not None:
            planned = f"/{short_count(status.planned_steps)}" if status.planned_steps else ""
            words.append(f"{short_count(status.last_step)}{planned}")
        return " ".join(words)
    if status.state == "running" and status.last_step is not None:
        planned = f"/{short_count(status.planned_steps)}" if status.planned_steps else ""
        return f"running {short_count(status.last_step)}{planned}"
    if status.state == "failed" and status.exit_code is not None:
        return f"failed ({status.exit_code})"
    if status.state == "killed" and status.signal:
        return f"killed ({status.signal})"
    return status.state


def watch_parts(status: JobStatus, loss=None) -> list[str]:
    """What `ls`, `wait` and `cycle` show of a job's pace: `4m05s elapsed` (since the job
    started), `eta 2h10m` (from its own steps per second), `loss 0.3120` (its latest)."""
    parts = []
    if status.elapsed_s is not None:
        parts.append(f"{duration(status.elapsed_s)} elapsed")
    if status.eta_s is not None:
        parts.append(f"eta {duration(status.eta_s)}")
    value = status.metrics.get("loss")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        parts.append(f"loss {loss.value(value) if loss is not None else f'{value:.4g}'}")
    return parts
