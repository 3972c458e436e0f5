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

from expctl.launchers.jobfiles import hostname, live_processes, same_process_alive

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
    host = ((job or {}).get("supervisor") or {}).get("host")
    if host and host != hostname():
        return None
    if leader_alive(job):
        return True
    return bool(launch_processes(run_path, launch.get("launch_id")))


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
