"""Starting the scheduler on demand: every expctl command that finds queued runs and no
scheduler holding the lock starts one, detached in its own session (setsid). Standard
library only: get_workspace() calls `wake` for every command."""

from __future__ import annotations

import sys
from pathlib import Path

from expctl.queue.store import has_entries, queue_dir, scheduler_running


def wake(root: Path) -> bool:
    """Start the workspace's scheduler if runs are queued and none runs; True if started."""
    qdir = queue_dir(root)
    if not has_entries(qdir) or scheduler_running(qdir):
        return False
    start_scheduler(root)
    return True


def start_scheduler(root: Path) -> None:
    """The scheduler as a detached process (a second one exits at once: the lock)."""
    import subprocess

    qdir = queue_dir(root)
    qdir.mkdir(parents=True, exist_ok=True)
    with open(qdir / "scheduler.log", "ab") as log:
        subprocess.Popen([sys.executable, "-m", "expctl.queue.scheduler", str(root)],
                         cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         start_new_session=True, close_fds=True)
