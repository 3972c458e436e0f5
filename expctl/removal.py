"""Taking runs out of a workspace: `rm` deletes run folders, `archive` moves them to
runs/.archive/<id>/ (kept, out of the index, restorable with `archive --restore`).

Safety rules, checked for every run before anything changes (one refused run: nothing
happens): the run exists; its folder is a real folder inside runs/ (a symbolic link is
refused, never followed); no job of it is at work (training or validation). A folder leaves
runs/ by one rename, so `ls` and `reindex` see it or not, never half of it; deletion then
works on the renamed folder and never follows a link out of it. The registry rows are updated
by the same command (the CLI passes the registry it opened before touching any folder).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from expctl.busy import busy_reason
from expctl.errors import ConflictError, ExpctlError, NotFoundError
from expctl.ids import check_run_id
from expctl.rundir import ARCHIVE_DIR, RUN_FILE
from expctl.runs import Run, load_run, locked
from expctl.workspace import Workspace
from expctl.worktree import remove_tree

Action = Literal["remove", "archive", "restore"]


@dataclass
class Target:
    """One run folder an action moves or deletes."""

    run_id: str
    path: Path  # where the folder is now
    files: int = 0
    bytes: int = 0


@dataclass
class RemovalPlan:
    action: Action
    targets: list[Target]
    notes: list[str] = field(default_factory=list)  # e.g. "`x` is the workspace's baseline"

    @property
    def ids(self) -> list[str]:
        return [t.run_id for t in self.targets]

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.targets)


def archive_dir(ws: Workspace) -> Path:
    return ws.runs_dir / ARCHIVE_DIR


def plan_removal(ws: Workspace, run_ids: list[str], action: Action) -> RemovalPlan:
    """Check every run for `action` and measure its folder; raise on the first refusal."""
    if not run_ids:
        from expctl.errors import BadInputError

        raise BadInputError("No run given.", hint="name one or more runs, see `expctl ls`")
    targets = []
    for run_id in dict.fromkeys(run_ids):
        check_run_id(run_id)
        targets.append(_target(ws, run_id, action))
    plan = RemovalPlan(action, targets)
    baseline = _baseline(ws)
    if action != "restore" and baseline in plan.ids:
        plan.notes.append(f"`{baseline}` is the workspace's baseline (expctl.yaml); leaderboard "
                          "deltas need it")
    return plan


def apply_removal(ws: Workspace, plan: RemovalPlan, db=None) -> list[str]:
    """Carry out a plan from plan_removal, then bring the registry's rows in line (`db`: the
    registry the caller opened first). Returns problems that did not stop the others."""
    problems: list[str] = []
    done: list[str] = []
    try:
        for target in plan.targets:
            try:
                _apply_one(ws, plan.action, target)
            except ExpctlError as exc:
                problems.append(f"{target.run_id}: {exc.message}")
                if plan.action == "remove" and not target.path.exists():
                    done.append(target.run_id)  # out of runs/, only the deletion failed
                continue
            done.append(target.run_id)
    finally:
        if done:
            from expctl.registry import index_runs

            index_runs(ws, done, db)  # moved or deleted folders lose their rows; restored gain
            if plan.action != "restore" and ws.current_run() in done:
                ws.clear_current_run()
    return problems


def list_archived(ws: Workspace) -> tuple[list, list[str]]:
    """The archived runs as registry records (expctl.registry.folders.RunRecord), newest
    first, read from their folders (the registry does not index them), and the folders that
    could not be read."""
    from expctl.registry.folders import read_record
    from expctl.registry.index import list_folder_ids

    folder = archive_dir(ws)
    records, problems = [], []
    for run_id in list_folder_ids(folder):
        try:
            records.append(read_record(folder, run_id))
        except ExpctlError as exc:
            problems.append(f"{run_id}: {exc.message}")
    records.sort(key=lambda r: (r.created_ts, r.id), reverse=True)
    return records, problems


# --- internals ---------------------------------------------------------------------------------


def _target(ws: Workspace, run_id: str, action: Action) -> Target:
    if action == "restore":
        source = archive_dir(ws) / run_id
        if not (source / RUN_FILE).is_file() or source.is_symlink():
            raise NotFoundError(f"No archived run `{run_id}` in {archive_dir(ws)}.",
                                hint="see `expctl ls --archived`")
        if os.path.lexists(ws.runs_dir / run_id):
            raise ConflictError(f"Cannot restore `{run_id}`: a run of that id exists again.",
                                hint=f"remove or archive the other `{run_id}` first")
        return _measured(Target(run_id, source))
    source = ws.runs_dir / run_id
    if source.is_symlink():
        raise ConflictError(
            f"`{source}` is a symbolic link to `{os.readlink(source)}`, not a run folder.",
            hint="expctl never follows it; remove the link yourself if it is no longer wanted")
    run = load_run(ws, run_id)  # NotFoundError, with a hint when the run is archived
    reason = busy_reason(run)
    if reason:
        verb = "remove" if action == "remove" else "archive"
        raise ConflictError(f"Cannot {verb} run `{run_id}`: {reason}.",
                            hint=f"wait for it (`expctl wait {run_id}`) or stop it "
                            f"(`expctl stop {run_id}`) first")
    if action == "archive" and os.path.lexists(archive_dir(ws) / run_id):
        raise ConflictError(f"An archived run `{run_id}` already exists.",
                            hint=f"remove it first: `expctl rm` cannot reach it; delete "
                            f"{archive_dir(ws) / run_id} yourself")
    return _measured(Target(run_id, source))


def _measured(target: Target) -> Target:
    """Count the folder's files and bytes without following links (a link counts as itself)."""
    for folder, dirs, files in os.walk(target.path):  # followlinks=False: links are entries
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            try:
                target.bytes += os.lstat(os.path.join(folder, name)).st_size
                target.files += 1
            except FileNotFoundError:
                continue
    return target


def _apply_one(ws: Workspace, action: Action, target: Target) -> None:
    if action == "restore":
        os.rename(target.path, ws.runs_dir / target.run_id)
        return
    with locked(target.path):
        reason = busy_reason(Run(target.path, load_run(ws, target.run_id).info))
        if reason:  # launched since the plan was made
            raise ConflictError(f"{reason}; left in place")
        if action == "archive":
            archive_dir(ws).mkdir(exist_ok=True)
            os.rename(target.path, archive_dir(ws) / target.run_id)
            return
        # Out of runs/ in one step (a dot-name is no run), then deleted at leisure.
        trash = ws.runs_dir / f".rm-{target.run_id}-{os.getpid()}"
        os.rename(target.path, trash)
    remove_tree(ws, target.run_id)  # its private working tree (only one expctl made) goes too
    try:
        shutil.rmtree(trash)  # symlink-safe: links are unlinked, never followed
    except OSError as exc:
        raise ExpctlError(f"removed from the workspace, but `{trash}` could not be deleted "
                          f"completely: {exc.strerror}") from None


def _baseline(ws: Workspace) -> str | None:
    try:
        return ws.settings.baseline
    except ExpctlError:
        return None
