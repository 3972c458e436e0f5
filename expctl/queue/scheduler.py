"""The workspace's scheduler: `python -m expctl.queue.scheduler WORKSPACE`.

One per workspace (it holds .expctl/queue/scheduler.lock for its whole life), started on
demand by expctl commands in its own session, so it survives the terminal and the login.
Every POLL_S it takes a cheap look (expctl.queue.watch: the mtime of entries/, the pause
flag, the files and supervisor of each run it started or waits for); only when something
changed, or every FULL_EVERY_S, it frees the devices of runs that ended, decides
(expctl.queue.order) and starts runs through the launch phase, with CUDA_VISIBLE_DEVICES for
exactly the GPUs it assigned. It exits when the queue is empty.

Never twice: the decision to start is written to the entry (state `starting`, durably, under
queue.lock) before the launch, and the launch phase itself refuses a run that runs. A
scheduler killed in between is succeeded by one that reads the run's launch.json: an attempt
newer than the one recorded in the entry means the launch happened (`started`); otherwise
nothing was started and the entry is queued again.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

from expctl.errors import ConflictError, ExpctlError
from expctl.queue import store
from expctl.queue.order import decide
from expctl.queue.slots import Pool, pool_from_settings, unusable_gpus
from expctl.queue.store import Entry, queue_lock, read_entries, read_entry, write_entry
from expctl.queue.watch import RunStates
from expctl.workspace import Workspace

POLL_S = 0.2
# Decide at least this often even when the cheap look saw nothing: a change it cannot see
# (two entry writes within one tick of the file system's clock, a Slurm dependency).
FULL_EVERY_S = 5.0
MEMORY_EVERY_S = 5.0  # how often nvidia-smi is asked for free memory (when a threshold is set)


def log(text: str) -> None:
    """One line in scheduler.log (the scheduler's stderr)."""
    sys.stderr.write(f"{store.now_iso()} {text}\n")
    sys.stderr.flush()


def launch_attempt(ws: Workspace, run_id: str) -> int:
    from expctl.rundir import LAUNCH_FILE, read_json_file

    launch = read_json_file(ws.runs_dir / run_id / LAUNCH_FILE) or {}
    attempt = launch.get("attempt")
    return attempt if isinstance(attempt, int) else 0


def reconcile(ws: Workspace, qdir: Path) -> None:
    """Settle the `starting` entries a killed scheduler left: started or queued again."""
    with queue_lock(qdir):
        for entry in read_entries(qdir):
            if entry.state != "starting":
                continue
            launched = launch_attempt(ws, entry.run_id) > entry.attempt_before
            entry.state = "started" if launched else "queued"
            entry.reason = None if launched else "waiting for the scheduler"
            entry.changed = store.now_iso()
            write_entry(qdir, entry)
            log(f"{entry.run_id}: found starting, {'launched' if launched else 'not launched'}"
                f" -> {entry.state}")


class Scheduler:
    """One pass after another over the queue of one workspace."""

    def __init__(self, ws: Workspace, pool: Pool):
        self.ws = ws
        self.qdir = store.queue_dir(ws.root)
        self.pool = pool
        self._unusable: dict[int, str] = {}
        self._memory_at = 0.0
        self._seen: tuple | None = None  # entries/ and the pause flag at the last full pass
        self._decided_at = 0.0
        self._basis: dict[str, str] = {}  # run -> state the last full pass acted on
        self._states = RunStates(ws)

    def _look(self) -> tuple | None:
        """What every change of an entry or of the pause flag changes: entries/'s mtime
        (each write replaces or removes a file in it) and the flag."""
        try:
            return (os.stat(self.qdir / "entries").st_mtime_ns, store.is_paused(self.qdir))
        except FileNotFoundError:
            return None

    def _changed(self) -> bool:
        """Whether a full pass is due: an entry or the pause flag changed, a run it started
        or waits for changed state, or FULL_EVERY_S went by."""
        seen = self._look()
        if seen != self._seen or time.monotonic() - self._decided_at > FULL_EVERY_S:
            self._seen = seen
            return True
        return any(self._states.state(r) != state for r, state in self._basis.items())

    def run_state(self, run_id: str) -> str:
        return self._states.state(run_id)

    def step(self) -> None:
        """One pass: a cheap look, and a full one when something changed."""
        if not self._changed():
            return
        self._decided_at = time.monotonic()
        entries = read_entries(self.qdir)
        busy: set[int] = set()
        self._basis = {}
        for entry in entries:
            if entry.state == "started":
                state = self.run_state(entry.run_id)
                if state == "running":
                    busy.update(entry.devices)
                    self._basis[entry.run_id] = state
                else:
                    self._release(entry)
            elif entry.state == "starting":  # only a dead scheduler leaves these
                busy.update(entry.devices)
        waiting = [e for e in entries if e.state in store.WAITING]
        self._states.forget({e.run_id for e in entries} | {d for e in waiting for d in e.after})
        if not waiting:
            return
        deps = {d: self.run_state(d) for e in waiting for d in e.after}
        self._basis.update(deps)
        decisions = decide(waiting, self.pool.devices, busy, self._unusable_now(), deps,
                           store.is_paused(self.qdir), self.pool.unit)
        for d in decisions:
            if d.action == "start":
                if self._start(d.entry, d.devices):
                    self._basis[d.entry.run_id] = "running"
            else:
                self._note(d.entry, "blocked" if d.action == "block" else "queued", d.reason)

    def _unusable_now(self) -> dict[int, str]:
        if self.pool.min_free_mib and time.monotonic() - self._memory_at > MEMORY_EVERY_S:
            self._unusable = unusable_gpus(self.pool)
            self._memory_at = time.monotonic()
        return self._unusable

    def _release(self, entry: Entry) -> None:
        with queue_lock(self.qdir):
            current = read_entry(self.qdir, entry.run_id)
            if current is not None and current.state == "started":
                store.remove_entry(self.qdir, entry.run_id)
                log(f"{entry.run_id}: no longer running; frees {self.pool.unit} "
                    f"{','.join(map(str, entry.devices))}")

    def _note(self, entry: Entry, state: str, reason: str | None) -> None:
        """Record why an entry waits (what `status` and `ls` show); written only on change."""
        if entry.state == state and entry.reason == reason:
            return
        with queue_lock(self.qdir):
            current = read_entry(self.qdir, entry.run_id)
            if current is None or current.state not in store.WAITING:
                return
            current.state, current.reason, current.changed = state, reason, store.now_iso()
            write_entry(self.qdir, current)

    def _start(self, entry: Entry, devices: list[int]) -> bool:
        """Start a run on `devices`; True when it was launched."""
        from expctl.phases.launch import plan_launch, start

        with queue_lock(self.qdir):
            current = read_entry(self.qdir, entry.run_id)
            if current is None or current.state not in store.WAITING:
                return False  # cancelled meanwhile
            current.state, current.reason, current.devices = "starting", None, devices
            current.attempt_before = launch_attempt(self.ws, entry.run_id)
            current.changed = store.now_iso()
            write_entry(self.qdir, current)  # durable before anything starts
        try:
            plan = plan_launch(self.ws, entry.run_id, current.launcher,
                               devices if self.pool.gpus else None, current.resume)
            start(self.ws, plan, environ=store.read_env(self.qdir, entry.run_id))
        except ConflictError as exc:  # launched by hand meanwhile, or ended: not ours to run
            self._drop(current, exc.message)
            return False
        except ExpctlError as exc:
            self._fail(current, f"could not start: {exc.message}")
            return False
        except Exception as exc:  # noqa: BLE001 - a bug or an OS error: the entry says so
            self._fail(current, f"could not start: {type(exc).__name__}: {exc}")
            return False
        with queue_lock(self.qdir):
            current.state, current.changed = "started", store.now_iso()
            write_entry(self.qdir, current)
            store.env_path(self.qdir, entry.run_id).unlink(missing_ok=True)
        unit = self.pool.unit
        log(f"{entry.run_id}: started on {unit} {','.join(map(str, devices))}")
        return True

    def _drop(self, entry: Entry, why: str) -> None:
        with queue_lock(self.qdir):
            store.remove_entry(self.qdir, entry.run_id)
        log(f"{entry.run_id}: taken out of the queue: {why}")

    def _fail(self, entry: Entry, why: str) -> None:
        with queue_lock(self.qdir):
            if launch_attempt(self.ws, entry.run_id) > entry.attempt_before:
                entry.state = "started"  # it did start; the run's own status tells the rest
            else:
                entry.state, entry.reason, entry.devices = "blocked", why, []
            entry.changed = store.now_iso()
            write_entry(self.qdir, entry)
        log(f"{entry.run_id}: {why}")


def serve(ws: Workspace, poll_s: float = POLL_S) -> int:
    """Run the scheduler until the queue is empty; 0 at once if another one runs."""
    qdir = store.queue_dir(ws.root)
    handle = store.try_scheduler_lock(qdir)
    if handle is None:
        return 0
    from expctl.launchers.jobfiles import identity
    from expctl.rundir import write_json_atomic

    write_json_atomic(qdir / "scheduler.json", {**identity(os.getpid()),
                                                "started": store.now_iso()})
    scheduler = Scheduler(ws, pool_from_settings(ws.settings.queue))
    log(f"scheduler {os.getpid()} up: {scheduler.pool.unit}s "
        f"{','.join(map(str, scheduler.pool.devices))}")
    reconcile(ws, qdir)
    while True:
        if not store.has_entries(qdir):
            # Let go first, then look again: a run queued just before this is seen here, and
            # one queued after it finds the lock free and starts a new scheduler.
            handle.close()
            if not store.has_entries(qdir) or (handle := store.try_scheduler_lock(qdir)) is None:
                log(f"scheduler {os.getpid()}: queue empty, exiting")
                return 0
            reconcile(ws, qdir)
        try:
            scheduler.step()
        except Exception:  # noqa: BLE001 - a bad pass is logged; the next one tries again
            log("pass failed:\n" + traceback.format_exc())
            time.sleep(1.0)
        time.sleep(poll_s)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m expctl.queue.scheduler WORKSPACE", file=sys.stderr)
        return 2
    try:
        return serve(Workspace(Path(args[0]).resolve()))
    except ExpctlError as exc:  # e.g. a broken expctl.yaml
        log(f"scheduler stopped: {exc.message}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
