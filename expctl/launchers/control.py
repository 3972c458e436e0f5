"""Acting on a launched job: stop it, wait for it to end, read its log.

`expctl wait` exits with the run's own code: 0 finished, the job's code when it failed,
128 + the signal number when it was killed or stopped (130 for SIGINT), LOST_EXIT_CODE when
the run was lost, TIMEOUT_EXIT_CODE when --timeout ran out first.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from expctl.errors import ConflictError, ExpctlError
from expctl.launchers.jobfiles import hostname, process_start_ticks, same_process_alive
from expctl.launchers.liveness import launch_processes, leader_alive, run_processes
from expctl.launchers.status import JobStatus, derive_status, status_text
from expctl.rundir import (
    JOB_FILE,
    LAUNCH_FILE,
    LOG_FILE,
    now_iso,
    parse_iso,
    read_exit_record,
    read_json_file,
    write_exit_record,
)

DEFAULT_GRACE_S = 30.0  # time a job gets to save and exit after SIGINT
TERM_GRACE_S = 10.0  # at most this long after SIGTERM before SIGKILL
KILL_WAIT_S = 10.0  # after SIGKILL, the supervisor's time to write the exit record
LOST_EXIT_CODE = 125
TIMEOUT_EXIT_CODE = 124


def exit_code_for(status: JobStatus) -> int:
    """The exit code `expctl wait` returns for a run that is no longer running."""
    if status.state == "finished":
        return 0
    if status.state == "failed":
        return status.exit_code if status.exit_code else 1
    if status.state == "killed":
        return 128 + _signal_number(status.signal)
    return LOST_EXIT_CODE


def _signal_number(name: str | None) -> int:
    try:
        return int(signal.Signals[name]) if name else 0
    except KeyError:
        return 0


# --- stop ---------------------------------------------------------------------------------------


@dataclass
class _Job:
    supervisor: dict
    pgid: int | None
    job_start: int | None


def stop_job(run, force: bool = False, grace: float = DEFAULT_GRACE_S,
             notify: Callable[[str], None] = lambda _text: None) -> JobStatus:
    """Stop a running job: SIGINT through its supervisor, SIGTERM after `grace` seconds,
    then SIGKILL to its process group (at once with `force`). Returns the final status."""
    status = derive_status(run, tail_bytes=0)
    if status.launcher == "slurm":
        from expctl.launchers import slurm

        if status.state != "running":
            raise ConflictError(f"Run `{run.id}` is not running ({status_text(status)}).")
        return slurm.stop_job(run, lambda: derive_status(run, tail_bytes=0), force=force,
                              grace=grace, notify=notify)
    if status.state == "lost":
        return _stop_lost(run, status, notify)
    if status.orphan:
        return _stop_orphan(run, force, grace, notify)
    if status.state != "running":
        raise ConflictError(f"Run `{run.id}` is not running ({status_text(status)}).")
    job = _job_record(run)
    host = job.supervisor.get("host")
    if host and host != hostname():  # its pids mean nothing here: never signal them
        raise ExpctlError(f"Run `{run.id}` runs on host `{host}`.",
                          hint=f"run `expctl stop {run.id}` on {host}")
    steps: list[tuple[signal.Signals, bool, float]] = [(signal.SIGKILL, True, KILL_WAIT_S)]
    if not force:
        steps = [(signal.SIGINT, False, grace), (signal.SIGTERM, False, min(grace, TERM_GRACE_S)),
                 *steps]
    for sig, to_group, wait_s in steps:
        # The supervisor forwards INT/TERM to the job's group and notes that a stop was asked
        # for; SIGKILL cannot be forwarded, so it goes to the group directly.
        if to_group:
            _killpg(job.pgid, sig)
        elif same_process_alive(job.supervisor):
            os.kill(job.supervisor["pid"], sig)
        notify(f"sent {sig.name} to run {run.id}; waiting up to {wait_s:g}s")
        if _wait_ended(run, wait_s):
            return derive_status(run)
    raise ExpctlError(f"Run `{run.id}` did not end after SIGKILL.",
                      hint=f"look for its processes: pgid {job.pgid}")


def _job_record(run, wait_s: float = 5.0) -> _Job:
    """The running supervisor's record; a just-launched one gets `wait_s` to write it."""
    deadline = time.monotonic() + wait_s
    launch = read_json_file(run.path / LAUNCH_FILE)
    while True:
        job = read_exit_record(run.path, launch)
        if job is not None:
            return _Job(job.get("supervisor") or {}, job.get("job_pid"), job.get("job_start"))
        if time.monotonic() > deadline:
            raise ExpctlError(f"Run `{run.id}` has no supervisor record yet; try again.")
        time.sleep(0.05)


def _wait_ended(run, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while True:
        if derive_status(run, tail_bytes=0).state != "running":
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _killpg(pgid: int | None, sig: int) -> None:
    if pgid:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _stop_orphan(run, force: bool, grace: float,
                 notify: Callable[[str], None]) -> JobStatus:
    """The supervisor died but the job runs on: do what it would have done. SIGINT to the
    job's group (save and exit), SIGTERM, then SIGKILL to every process of the launch; then
    write the exit record in its place (the exit code is unknown: nobody could wait for it)."""
    launch = read_json_file(run.path / LAUNCH_FILE) or {}
    record = read_exit_record(run.path, launch) or {}
    steps = [(signal.SIGKILL, KILL_WAIT_S)]
    if not force:
        steps = [(signal.SIGINT, grace), (signal.SIGTERM, min(grace, TERM_GRACE_S)), *steps]

    def left() -> list[int]:
        return launch_processes(run.path, launch.get("launch_id"))

    for sig, wait_s in steps:
        if leader_alive(record):  # the group id is the job's only while its leader lives
            _killpg(record.get("job_pid"), sig)
        if sig != signal.SIGINT:  # like the supervisor: leftovers get TERM/KILL, not INT
            for pid in left():
                _kill(pid, sig)
        notify(f"sent {sig.name} to run {run.id}, whose supervisor died; "
               f"waiting up to {wait_s:g}s")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not leader_alive(record) and (sig == signal.SIGINT or not left()):
                break
            time.sleep(0.1)  # each look scans /proc
        if not leader_alive(record) and not left():
            break
    if leader_alive(record) or left():
        raise ExpctlError(f"Run `{run.id}` did not end after SIGKILL.",
                          hint=f"look for its processes: pgid {record.get('job_pid')}")
    ended = now_iso()
    began = parse_iso(record.get("started"))
    elapsed = round(max(0.0, (parse_iso(ended) or 0.0) - began), 3) if began else None
    write_exit_record(run.path / JOB_FILE, {
        "launch_id": launch.get("launch_id"), **record, "state": "ended", "ended": ended,
        "elapsed_s": elapsed, "exit_code": None, "signal": None, "stop_signal": steps[0][0].name,
        "error": "its supervisor died; stopped by `expctl stop`, exit code unknown"})
    return derive_status(run)


def _stop_lost(run, status: JobStatus, notify: Callable[[str], None]) -> JobStatus:
    """The supervisor is gone (e.g. it was SIGKILLed), so nobody cleans up after the job:
    find what is left of it, by process group and by the EXPCTL_RUN_DIR every process of
    the job inherits, and end it: SIGTERM, then SIGKILL."""
    launch = read_json_file(run.path / LAUNCH_FILE)
    record = read_exit_record(run.path, launch) or {}
    host = (record.get("supervisor") or {}).get("host")
    if host not in (None, hostname()):
        raise ConflictError(f"Run `{run.id}` is lost (it ran on host `{host}`).")
    pgid, job_start = record.get("job_pid"), record.get("job_start")
    group = pgid if pgid and job_start and process_start_ticks(pgid) == job_start else None
    left = run_processes(run.path)
    if group is None and not left:
        raise ConflictError(f"Run `{run.id}` is lost: its supervisor is gone and so is its job.")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        _killpg(group, sig)
        for pid in left:
            _kill(pid, sig)
        notify(f"sent {sig.name} to what is left of lost run {run.id}")
        deadline = time.monotonic() + TERM_GRACE_S
        while time.monotonic() < deadline:
            left = run_processes(run.path)
            if not left and (group is None or process_start_ticks(group) != job_start):
                return status
            time.sleep(0.05)
    return status


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# --- wait ---------------------------------------------------------------------------------------


def wait_for(run, timeout: float | None = None, poll_s: float = 0.25,
             on_update: Callable[[JobStatus], None] = lambda _s: None) -> tuple[JobStatus, bool]:
    """Poll until the run is no longer queued or running; returns its status and whether time
    ran out."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        status = derive_status(run)
        on_update(status)
        if status.state not in ("running", "queued"):
            return status, False
        if deadline is not None and time.monotonic() >= deadline:
            return status, True
        left = poll_s if deadline is None else deadline - time.monotonic()
        time.sleep(max(0.0, min(poll_s, left)))


# --- logs ---------------------------------------------------------------------------------------


def log_path(run) -> Path:
    return run.path / LOG_FILE


TAIL_MIN_BYTES = 1 << 20  # `logs -n N` reads at most this much of the end of a log...
TAIL_BYTES_PER_LINE = 4096  # ...or this much per line asked for, where that is more
_BREAK = re.compile(rb"\r\n|\r|\n")


def tail(path: Path, lines: int, block: int = 65536) -> tuple[bytes, int]:
    """The last `lines` lines of a file, byte for byte, and the file's size (where following
    starts).

    A `\\r` counts as a line break like `\\n` (`\\r\\n` as one): a progress bar redraws its
    line with `\\r` and may never end it, so a log can be one huge "line" of which a terminal
    shows only the last state. Reading stops at a byte cap, so the work is bounded anyway."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return b"", 0
    with f:
        size = f.seek(0, os.SEEK_END)
        if lines <= 0:
            return b"", size
        cap = max(TAIL_MIN_BYTES, lines * TAIL_BYTES_PER_LINE)
        data = _read_end(f, size, lines + 1, block, cap)  # a final break ends a line: +1
    return data[_start_of_last(data, lines):], size


def _read_end(f, size: int, breaks: int, block: int, cap: int) -> bytes:
    """The shortest end of file `f` that holds `breaks` line breaks, or its last `cap` bytes.

    Only each new block is counted and the blocks are joined once, so the work is linear in
    what is read (re-joining and re-counting the whole tail per block was quadratic)."""
    chunks: list[bytes] = []
    start, found = size, 0
    while start > 0 and found < breaks and size - start < cap:
        step = min(block, start, cap - (size - start))
        start -= step
        f.seek(start)
        chunk = f.read(step)
        found += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
        if chunks and chunk.endswith(b"\r") and chunks[-1].startswith(b"\n"):
            found -= 1  # a \r\n split between two blocks is one break
        chunks.append(chunk)
    return b"".join(reversed(chunks))


def _start_of_last(data: bytes, lines: int) -> int:
    """Where the last `lines` lines of `data` begin (0 when it holds fewer)."""
    end = len(data)
    if data.endswith(b"\r\n"):
        end -= 2  # a final break ends the last line rather than starting an empty one
    elif data.endswith((b"\n", b"\r")):
        end -= 1
    starts = [m.end() for m in _BREAK.finditer(data, 0, end)]
    return starts[-lines] if len(starts) >= lines else 0


def follow(path: Path, offset: int, running: Callable[[], bool],
           poll_s: float = 0.2) -> Iterator[bytes]:
    """New bytes of a growing file from `offset` until `running()` is false and all is read."""
    while True:
        data = _read_from(path, offset)
        if data:
            offset += len(data)
            yield data
            continue
        if not running():
            # The job has ended: one last read catches what it wrote just before.
            rest = _read_from(path, offset)
            if rest:
                yield rest
            return
        time.sleep(poll_s)


def _read_from(path: Path, offset: int) -> bytes:
    """The bytes of `path` after `offset` (none while the file does not exist yet)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read()
    except FileNotFoundError:
        return b""
