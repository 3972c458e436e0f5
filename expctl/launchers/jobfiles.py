"""The files a launched job leaves in its run folder, and how to tell if its supervisor lives.

    launch.json             written by `expctl launch`: what to run (argv, cwd, env), launcher,
                            session, attempt; after the start also the supervisor's pid
    training_logs/stdout.log  everything the job printed (stdout and stderr), byte for byte
    training_logs/job.json    written by the supervisor only: once when the job starts (pids)
                            and once, atomically, when it ends (the exit record); padded
                            with spaces to RECORD_BYTES, so that on a full disk the exit
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

import json
import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LAUNCH_FILE = "launch.json"
LOG_FILE = "training_logs/stdout.log"
JOB_FILE = "training_logs/job.json"
SUPERVISOR_LOG = "training_logs/supervisor.log"  # the supervisor's own errors, if any
FORMAT_VERSION = 1
RECORD_BYTES = 8192  # job.json's size on disk: room for the exit record even on a full disk
# Variables that describe the session a process runs in: the job keeps its own session's values,
# not those of the terminal `expctl launch` was typed in.
SESSION_VARIABLES = ("STY", "WINDOW", "TMUX", "TMUX_PANE", "TERM")


def now_iso() -> str:
    """Local time with its UTC offset, to the millisecond."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="milliseconds")


def parse_iso(text: str | None) -> float | None:
    """Seconds since the epoch for an ISO time written by now_iso (None stays None)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def read_json_file(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`, or None when it is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json_atomic(path: Path, data: dict[str, Any], durable: bool = True,
                      pad_to: int = 0) -> None:
    """Replace `path` so readers see the whole old or the whole new record, never half.
    `durable` also survives a power cut (fsync, ~10 ms): skipped only where speed matters.
    `pad_to` pads the file with spaces to that many bytes (see write_record)."""
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


def write_record(path: Path, data: dict[str, Any]) -> None:
    """Write the exit record, reserving RECORD_BYTES on disk: when the disk is full later (a
    job that filled it), the final record overwrites that space in place, needing no new
    blocks, so a job that exited 0 is still `finished`."""
    try:
        write_json_atomic(path, data, pad_to=RECORD_BYTES)
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


# --- is this pid still our supervisor? -----------------------------------------------------


def hostname() -> str:
    """This machine's name (what socket.gethostname says, without importing socket)."""
    return os.uname().nodename


def boot_id() -> str | None:
    """Changes on every reboot, so a pid recorded before a reboot is never trusted after it."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def process_start_ticks(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot); None without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last `)`.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 of the whole line
    except (IndexError, ValueError):
        return None


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
    current = process_start_ticks(pid)
    # A zombie is still listed in /proc; its state is `Z` and it will never write a record.
    return current == expected and not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].startswith("Z")


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
