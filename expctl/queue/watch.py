"""The states of the runs the scheduler started or waits for, derived again only when they
may have changed, so that its idle passes cost a few stats rather than a derivation each.

A state is kept with the signature (mtime, size, inode) of the files it is derived from:
run.yaml, launch.json, the exit record and the run's queue entry; each is replaced whole
when it changes. A running run is also only as alive as its supervisor: the kept state holds
while the supervisor recorded in the exit record lives (one signal and one /proc read). Where
that cannot be seen from here (a Slurm job, a job not yet recorded, a job that outlived its
supervisor), the state is derived again every RECHECK_S.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from expctl.errors import ExpctlError
from expctl.launchers.jobfiles import same_process_alive
from expctl.queue.store import entry_path, queue_dir
from expctl.rundir import JOB_FILE, LAUNCH_FILE, RUN_FILE, read_json_file
from expctl.workspace import Workspace

RECHECK_S = 2.0


@dataclass
class _Known:
    state: str
    files: tuple
    supervisor: dict[str, Any] | None  # whose life a running state follows, when known
    recheck: bool  # derive again after RECHECK_S even when nothing changed
    at: float


class RunStates:
    """Each run's derived state as every command sees it (queued and blocked included;
    `missing` for a run without a readable folder, `imported` for an imported one)."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.qdir = queue_dir(ws.root)
        self._known: dict[str, _Known] = {}

    def state(self, run_id: str) -> str:
        files = self._files(run_id)  # before deriving: a later change then shows next time
        known = self._known.get(run_id)
        if known is not None and known.files == files and self._holds(known):
            return known.state
        state, supervisor, recheck = derive(self.ws, run_id)
        self._known[run_id] = _Known(state, files, supervisor, recheck, time.monotonic())
        return state

    def forget(self, keep: set[str]) -> None:
        """Drop what is kept of runs no longer in the queue or waited for."""
        for run_id in [r for r in self._known if r not in keep]:
            del self._known[run_id]

    def _files(self, run_id: str) -> tuple:
        run_dir = os.path.join(self.ws.runs_dir, run_id)
        paths = [os.path.join(run_dir, name) for name in (RUN_FILE, LAUNCH_FILE, JOB_FILE)]
        return tuple(_signature(p) for p in [*paths, entry_path(self.qdir, run_id)])

    @staticmethod
    def _holds(known: _Known) -> bool:
        if known.state != "running":
            return True  # every other state changes only with one of the files
        if not known.recheck and known.supervisor is not None:
            alive = same_process_alive(known.supervisor)
            if alive is not None:
                return alive
        return time.monotonic() - known.at < RECHECK_S


def derive(ws: Workspace, run_id: str) -> tuple[str, dict[str, Any] | None, bool]:
    """(state, the supervisor a running state follows, whether to look again after
    RECHECK_S regardless), from the run's folder as every command derives it."""
    from expctl.launchers.status import derive_status
    from expctl.runs import load_run

    try:
        run = load_run(ws, run_id)
    except ExpctlError:  # no folder, or a garbled run.yaml: not a run that can be waited for
        return "missing", None, False
    if run.info.imported:
        return "imported", None, False
    status = derive_status(run, tail_bytes=0)  # a garbled job record fails the pass, logged
    supervisor = (read_json_file(run.path / JOB_FILE) or {}).get("supervisor")
    recheck = status.orphan or status.launcher == "slurm" or not isinstance(supervisor, dict)
    return status.state, supervisor if isinstance(supervisor, dict) else None, recheck


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino
