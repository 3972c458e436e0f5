"""What `launch --queue`, `sweep --queue` and `expctl queue ...` do to the queue."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from expctl.errors import BadInputError, ConflictError, NotFoundError
from expctl.queue import store
from expctl.queue.store import Entry, queue_lock, read_entries, read_entry, write_entry
from expctl.workspace import Workspace


@dataclass
class QueueRow:
    """A line of `expctl queue`."""

    position: int | None  # among the waiting runs; None for starting/started ones
    entry: Entry

    @property
    def state(self) -> str:
        return {"started": "running"}.get(self.entry.state, self.entry.state)


def enqueue(ws: Workspace, runs: Sequence[tuple[str, str, int]], launcher: str | None = None,
            priority: int = 0, after: Sequence[str] = (), resume: bool = False) -> list[int]:
    """Queue runs, given as (run id, the launcher its launch plan chose, GPUs it needs) after
    the caller checked each as `launch` checks it; all are checked here before any is
    queued. Returns their positions. The caller wakes the scheduler (queue.service.wake)."""
    from expctl.runs import load_run

    if launcher == "slurm":
        raise BadInputError("With Slurm the queue is Slurm's: launch with --slurm, without "
                            "--queue.", hint="a sweep on Slurm: `expctl sweep ... --slurm`")
    ids = list(dict.fromkeys(r[0] for r in runs))
    for dep in after:
        load_run(ws, dep)  # a dependency must exist
        if dep in ids:
            raise BadInputError(f"Run `{dep}` cannot wait for itself (--after).")
    qdir = store.queue_dir(ws.root)
    needs = {}
    for run_id, chosen, need in runs:
        if read_entry(qdir, run_id) is not None:
            raise ConflictError(f"Run `{run_id}` is already in the queue.",
                                hint="see `expctl queue`")
        needs[run_id] = need
        check_queueable(ws, run_id, chosen, need)
    environ = dict(os.environ)
    with queue_lock(qdir):
        _check_no_cycle(qdir, ids, after)
        for run_id in ids:
            store.save_env(qdir, run_id, environ)
            write_entry(qdir, Entry(run_id=run_id, seq=store.arrival(), queued=store.now_iso(),
                                    priority=priority, after=list(after), launcher=launcher,
                                    resume=resume, need=needs[run_id],
                                    reason="waiting for the scheduler",
                                    changed=store.now_iso()))
        rows = list_queue(ws)
    where = {r.entry.run_id: r.position for r in rows}
    return [where.get(i) or 0 for i in ids]


def check_queueable(ws: Workspace, run_id: str, launcher: str, need: int) -> None:
    """A run the queue can start: not a Slurm one, and needing no more than the queue has."""
    from expctl.queue.slots import pool_from_settings

    if launcher == "slurm":
        raise BadInputError(f"Run `{run_id}` launches with Slurm (its recipe or expctl.yaml): "
                            "Slurm queues it itself.", hint="launch with --slurm, not --queue")
    pool = pool_from_settings(ws.settings.queue)
    if need > len(pool.devices):
        raise BadInputError(
            f"Run `{run_id}` needs {need} {pool.unit}s; the queue has {len(pool.devices)}.",
            hint="set `queue: {gpus: [...]}` or `queue: {slots: N}` in expctl.yaml")


def _check_no_cycle(qdir, ids: Sequence[str], after: Sequence[str]) -> None:
    """`--after` must not close a loop through queued runs: they would wait for ever."""
    edges = {e.run_id: e.after for e in read_entries(qdir)}
    for run_id in ids:
        edges[run_id] = list(after)
    for start in ids:
        seen, stack = set(), list(edges.get(start, []))
        while stack:
            node = stack.pop()
            if node == start:
                raise BadInputError(f"--after would make run `{start}` wait for itself "
                                    "through the queue.")
            if node not in seen:
                seen.add(node)
                stack.extend(edges.get(node, []))


def list_queue(ws: Workspace) -> list[QueueRow]:
    """The queue in order: running and starting runs first, then the waiting ones with
    their positions (1 starts next)."""
    entries = read_entries(store.queue_dir(ws.root))
    holding = [QueueRow(None, e) for e in entries if e.state in store.HOLDING]
    waiting = [e for e in entries if e.state in store.WAITING]
    return holding + [QueueRow(n, e) for n, e in enumerate(waiting, 1)]


def cancel(ws: Workspace, run_id: str) -> Entry:
    """Take a waiting run out of the queue (it stays a created run)."""
    qdir = store.queue_dir(ws.root)
    with queue_lock(qdir):
        entry = read_entry(qdir, run_id)
        if entry is None:
            raise NotFoundError(f"Run `{run_id}` is not in the queue.", hint="see `expctl queue`")
        if entry.state in store.HOLDING:
            raise ConflictError(f"Run `{run_id}` has already been started by the queue.",
                                hint=f"stop it with `expctl stop {run_id}`")
        store.remove_entry(qdir, run_id)
    return entry


def pause(ws: Workspace, paused: bool) -> None:
    """Hold back (or allow again) new starts; running jobs are not touched."""
    store.set_paused(store.queue_dir(ws.root), paused)


def is_paused(ws: Workspace) -> bool:
    return store.is_paused(store.queue_dir(ws.root))
