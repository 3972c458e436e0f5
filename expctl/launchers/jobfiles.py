"""What a launched job leaves in its run folder (the names are expctl.rundir's), and how to
tell whether a recorded process still lives.

    launch.json             written by `expctl launch`: what to run (argv, cwd, env), launcher,
                            session, attempt; after the start also the supervisor's pid
    training_logs/stdout.log  everything the job printed (stdout and stderr), byte for byte
    training_logs/job.json    written by the supervisor only: once when the job starts (pids)
                            and once, atomically, when it ends (the exit record); padded
                            with spaces to EXIT_RECORD_BYTES, so that on a full disk the exit
                            record can overwrite it in place
    training_logs/job.<n>.json  the record of an earlier attempt (kept by `launch --resume`)

job.json, the exit record (each write replaces the whole file atomically):

    launch_id    the launch.json it belongs to (a record of another attempt is ignored)
    state        "running" (written once the job is spawned) or "ended"
    started      ISO time the supervisor started; ended: ISO time the job and its leftovers
                 were gone; elapsed_s: seconds between them
    supervisor   {pid, pid_start, boot_id, host}: enough to tell the supervisor from a later
                 process that reuses its pid
    job_pid      the job's pid, also its process group id; job_start: its start time (ticks)
    exit_code    the job's exit code, or null when a signal ended it
    signal       the signal that ended the job (e.g. "SIGKILL"), or null
    stop_signal  the first signal the supervisor received and forwarded (SIGINT from `stop` or
                 Ctrl-C, SIGTERM, SIGHUP when the session was killed), or null
    error        why the job could not be started (exit_code 127/126), or null

Standard library only: the supervisor imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
# In the workspace's git-ignored state folder: <run id>.lock, taken by every launch of a run and
# left in place (so its presence also says the run was launched once), and the environment
# files handed to jobs.
JOBS_DIR = "jobs"
LOCK_SUFFIX = ".lock"
# Variables that describe the session a process runs in: the job keeps its own session's values,
# not those of the terminal `expctl launch` was typed in.
SESSION_VARIABLES = ("STY", "WINDOW", "TMUX", "TMUX_PANE", "TERM")


def launch_lock_path(state_dir: Path, run_id: str) -> Path:
    """The file `launch` locks while it starts a run's job."""
    return state_dir / JOBS_DIR / f"{run_id}{LOCK_SUFFIX}"


def launched_run_ids(state_dir: Path) -> set[str]:
    """Ids of the runs some `launch` has started in this workspace (one folder listing)."""
    try:
        names = os.listdir(state_dir / JOBS_DIR)
    except OSError:
        return set()
    return {n[: -len(LOCK_SUFFIX)] for n in names if n.endswith(LOCK_SUFFIX)}


# --- is this pid still our supervisor? -----------------------------------------------------


def hostname() -> str:
    """This machine's name (what socket.gethostname says, without importing socket)."""
    return os.uname().nodename


@cache  # a process never outlives the boot it started in
def boot_id() -> str | None:
    """Changes on every reboot, so a pid recorded before a reboot is never trusted after it."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def process_start_ticks(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot); None without /proc."""
    fields = _stat_fields(pid)
    try:
        return int(fields[19])  # field 22 of the whole line
    except (IndexError, TypeError, ValueError):
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last `)`.
    return stat[stat.rfind(")") + 2 :].split()


def identity(pid: int) -> dict[str, Any]:
    """What identifies process `pid` beyond its number, which the kernel reuses."""
    return {"pid": pid, "pid_start": process_start_ticks(pid), "boot_id": boot_id(),
            "host": hostname()}


def same_process_alive(record: dict[str, Any]) -> bool | None:
    """True if the process in `record` (from identity) still runs, False if it is gone,
    None when this machine cannot tell (the job ran on another host)."""
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if record.get("host") and record["host"] != hostname():
        return None
    if record.get("boot_id") and boot_id() and record["boot_id"] != boot_id():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, but another user's: the start time below decides
    expected = record.get("pid_start")
    if expected is None:
        return True
    fields = _stat_fields(pid)  # one read: the start time and the state
    if not fields:
        return False  # gone since the signal check
    try:
        current = int(fields[19])
    except (IndexError, ValueError):
        current = None
    # A zombie is still listed in /proc; its state is `Z` and it will never write a record.
    return current == expected and fields[0] != "Z"


def group_alive(pgid: int) -> bool:
    """Whether any process is left in process group `pgid`."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_processes() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, the fields of /proc/<pid>/stat after the command name: state, ppid, ...) of
    every live, non-zombie process. Linux /proc only; elsewhere none are found."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rfind(b")") + 2 :].split()
        if fields and fields[0] != b"Z":
            yield int(entry), fields
