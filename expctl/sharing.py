"""Who else may have written a file: the ambiguity check for files outside a run's own folder
and private tree (runs with `isolation: none`, runs outside git, absolute paths).

Gather asks about the files it would take: a file last written while another run of the
workspace was active may be that run's. Record asks about the files its sources read: an
appended log or a TensorBoard folder also mixes in another run's lines when that run was
active while this one was, even if this run wrote last. Either way the answer names the
other runs, so that nothing is chosen silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expctl.windows import CLOCK_SLACK_S, activity_intervals
from expctl.workspace import Workspace
from expctl.worktree import tree_path

Intervals = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Activity:
    """When another run of the workspace had a job running."""

    run_id: str
    intervals: Intervals

    def active_at(self, moment: float) -> bool:
        return any(start - CLOCK_SLACK_S <= moment <= end + CLOCK_SLACK_S
                   for start, end in self.intervals)

    def overlap_start(self, intervals: Intervals) -> float | None:
        """The earliest moment both were active, or None when they never were."""
        starts = [max(a, c) for a, b in self.intervals for c, d in intervals
                  if max(a, c) <= min(b, d)]
        return min(starts) if starts else None


def other_activity(ws: Workspace, run_id: str) -> list[Activity]:
    """Every other run of the workspace that ever had a job running, with when."""
    if not ws.runs_dir.is_dir():
        return []
    found = []
    for folder in sorted(ws.runs_dir.iterdir()):
        if folder.name == run_id or not folder.is_dir() or folder.name.startswith("."):
            continue
        intervals = activity_intervals(folder)
        if intervals:
            found.append(Activity(folder.name, intervals))
    return found


def is_private(ws: Workspace, run: Any, path: Path) -> bool:
    """Whether `path` (links followed) lies in the run's own folder or private tree."""
    resolved = path.resolve()
    return any(resolved.is_relative_to(own.resolve())
               for own in (run.path, tree_path(ws, run.id)))


def writers_besides(ws: Workspace, run: Any, files: list[Path],
                    own: Intervals | None = None) -> dict[Path, list[str]]:
    """For each shared file among `files`, the other runs that may have written it: active at
    its last write, or (given `own`, the run's intervals) active while this run was and before
    that write. Files in the run's own folder or tree are never shared."""
    shared = [f for f in files if not is_private(ws, run, f)]
    if not shared:
        return {}
    others = other_activity(ws, run.id)
    found: dict[Path, list[str]] = {}
    for path in shared:
        try:
            written = path.stat().st_mtime
        except OSError:
            continue
        ids = []
        for other in others:
            since = other.overlap_start(own) if own else None
            if other.active_at(written) or (since is not None and written >= since):
                ids.append(other.run_id)
        if ids:
            found[path] = ids
    return found


def describe_writers(ids: list[str]) -> str:
    """`run `b`` or `runs `b`, `c``, for messages."""
    names = ", ".join(f"`{i}`" for i in ids)
    return f"run {names}" if len(ids) == 1 else f"runs {names}"
