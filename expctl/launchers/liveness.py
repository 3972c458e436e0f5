"""Whether a launched job's processes still run, whatever became of its supervisor.

The supervisor records the job's pid and start time as soon as it is spawned, and every
process of the job inherits EXPCTL_RUN_DIR and EXPCTL_LAUNCH_ID. So a job whose supervisor
died (SIGKILL, the OOM killer) is alive while its leader or any process carrying those two
variables is. Linux /proc only; standard library only (the supervisor's side imports it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from expctl.launchers.jobfiles import boot_id, hostname, live_processes, same_process_alive
from expctl.rundir import parse_iso

LAUNCH_ID_VARIABLE = "EXPCTL_LAUNCH_ID"


def leader_identity(job: dict[str, Any]) -> dict[str, Any]:
    """The job leader's identity, in the shape `same_process_alive` reads."""
    supervisor = job.get("supervisor") or {}
    return {"pid": job.get("job_pid"), "pid_start": job.get("job_start"),
            "boot_id": supervisor.get("boot_id"), "host": supervisor.get("host")}


def leader_alive(job: dict[str, Any] | None) -> bool:
    """Whether the job's first process (pid and start time as recorded) still runs here."""
    return bool(job and job.get("job_pid") and same_process_alive(leader_identity(job)))


def job_alive(run_path: Path, launch: dict[str, Any], job: dict[str, Any] | None) -> bool | None:
    """True while any process of this launch runs on this machine, False when none does,
    None when the job ran on another host (its processes cannot be seen from here)."""
    supervisor = (job or {}).get("supervisor") or {}
    if supervisor.get("host") and supervisor["host"] != hostname():
        return None
    if _before_this_boot(supervisor, launch):  # a reboot ended it: no need to look
        return False
    if leader_alive(job):
        return True
    return bool(launch_processes(run_path, launch.get("launch_id")))


def _before_this_boot(supervisor: dict[str, Any], launch: dict[str, Any]) -> bool:
    if supervisor.get("boot_id") and boot_id() and supervisor["boot_id"] != boot_id():
        return True
    launched, booted = parse_iso(launch.get("launched")), boot_time()
    return launched is not None and booted is not None and launched < booted


def boot_time() -> float | None:
    """When this machine booted (seconds since the epoch), from /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def launch_processes(run_path: Path, launch_id: str | None) -> list[int]:
    """Live processes (other than this one) of one launch of the run: they carry its
    EXPCTL_RUN_DIR and EXPCTL_LAUNCH_ID. Without a launch id: every process of the run."""
    needles = [f"\0EXPCTL_RUN_DIR={run_path}\0".encode()]
    if launch_id:
        needles.append(f"\0{LAUNCH_ID_VARIABLE}={launch_id}\0".encode())
    found = []
    for pid, _ in live_processes():
        if pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = b"\0" + f.read() + b"\0"
        except OSError:
            continue  # gone, or another user's
        if all(needle in environ for needle in needles):
            found.append(pid)
    return found


def run_processes(run_path: Path) -> list[int]:
    """Live processes (other than this one) started for the run, by any launch or phase."""
    return launch_processes(run_path, None)


# --- outliving a dead supervisor (a Slurm batch script waits here) ----------------------------

ORPHANS_ENDED = 3  # wait_while_alive: the job ended by itself after its supervisor died
LEFTOVER_GRACE_S = 3.0  # after a forwarded SIGTERM, the job's time before SIGKILL


def wait_while_alive(run_path: Path, launch: dict[str, Any], job: dict[str, Any] | None,
                     poll_s: float = 0.25) -> int:
    """Block while a process of the launch lives, forwarding INT/TERM/HUP to it (a TERM is
    followed by SIGKILL after LEFTOVER_GRACE_S). Returns 0 when the supervisor had recorded
    the end (nothing to wait for), 128 + the first signal forwarded, or ORPHANS_ENDED."""
    import signal
    import time

    if job is not None and job.get("state") == "ended":
        return 0
    forwarded: list[int] = []
    kill_at: list[float] = []

    def forward(signum: int, _frame: Any) -> None:
        forwarded.append(signum)
        if leader_alive(job):  # the group id is the job's only while its leader lives
            _send(lambda: os.killpg(job["job_pid"], signum))
        if signum != signal.SIGINT:
            for pid in launch_processes(run_path, launch.get("launch_id")):
                _send(lambda pid=pid: os.kill(pid, signum))
            kill_at.append(time.monotonic() + LEFTOVER_GRACE_S)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    while job_alive(run_path, launch, job):
        if kill_at and time.monotonic() > kill_at[0]:
            for pid in launch_processes(run_path, launch.get("launch_id")):
                _send(lambda pid=pid: os.kill(pid, signal.SIGKILL))
        time.sleep(poll_s)
    return 128 + forwarded[0] if forwarded else ORPHANS_ENDED


def _send(action: Any) -> None:
    try:
        action()
    except (ProcessLookupError, PermissionError):
        pass
