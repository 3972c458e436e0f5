"""`expctl gc`: free disk by deleting the checkpoints of runs that a rule does not keep.

The rule keeps, of every run in runs/:
- the workspace's baseline (expctl.yaml `baseline`);
- the best N by the ranking metric (`--metric`, else the leaderboard's metric in expctl.yaml,
  else each run's own primary metric, ranked among the runs sharing it), ties at the cut kept;
- tagged runs: any tag, or only the tags named with `--keep-tag`;
- runs not ranked yet (no value for the metric: a run still to be validated needs its
  checkpoint), and runs whose training or validation is at work.
Everything else loses what the collectors find. There is one collector today: checkpoint
files (CHECKPOINT_SUFFIXES) under runs/<id>/checkpoints/, never through a symbolic link.
Another kind of disposable file (e.g. a run's private working tree) is one more entry in
COLLECTORS, and the rule, the dry run and the confirmation apply to it unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from expctl.busy import busy_reason
from expctl.errors import ExpctlError
from expctl.runs import Run, load_run, locked
from expctl.workspace import Workspace

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_SUFFIXES = (".ckpt", ".pt", ".pth", ".safetensors", ".bin")


@dataclass(frozen=True)
class GcRule:
    keep_best: int = 3
    keep_tags: tuple[str, ...] = ()  # empty: every tagged run is kept
    metric: str | None = None  # rank by this; None: the leaderboard's, else each run's primary


@dataclass
class GcFile:
    """A file the rule would delete."""

    run_id: str
    path: Path
    bytes: int
    kind: str  # the collector's name, e.g. "checkpoint"
    inode: tuple[int, int, int] = (0, 0, 1)  # (device, inode, links): hard links free once


@dataclass
class GcPlan:
    rule: GcRule
    files: list[GcFile] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # run id -> why (runs with files only)
    problems: list[str] = field(default_factory=list)  # run folders that could not be read

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def freed(self) -> int:
        """Bytes the deletion frees: a file with a hard link that stays frees nothing."""
        listed: dict[tuple[int, int], list[GcFile]] = {}
        for f in self.files:
            listed.setdefault(f.inode[:2], []).append(f)
        return sum(group[0].bytes for group in listed.values()
                   if len(group) >= group[0].inode[2])

    @property
    def runs(self) -> list[str]:
        return list(dict.fromkeys(f.run_id for f in self.files))


def checkpoint_files(run_id: str, run_path: Path) -> list[GcFile]:
    """Checkpoint files under the run's checkpoints/ folder (links are neither followed nor
    listed: what they point at is not this run's)."""
    top = run_path / CHECKPOINT_DIR
    if top.is_symlink() or not top.is_dir():
        return []
    found = []
    for folder, _dirs, files in os.walk(top):  # followlinks=False
        for name in sorted(files):
            path = Path(folder) / name
            if not name.endswith(CHECKPOINT_SUFFIXES):
                continue
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            found.append(GcFile(run_id, path, st.st_size, "checkpoint",
                                (st.st_dev, st.st_ino, st.st_nlink)))
    return found


Collector = Callable[[str, Path], list[GcFile]]  # (run id, run folder) -> files
COLLECTORS: dict[str, Collector] = {"checkpoint": checkpoint_files}


def plan_gc(ws: Workspace, rule: GcRule) -> GcPlan:
    """What `rule` deletes and why every other run with such files is kept; changes nothing."""
    from expctl.annotations import read_tags
    from expctl.registry.index import list_folder_ids

    plan = GcPlan(rule)
    run_ids = list_folder_ids(ws.runs_dir)
    found = {}  # cheap stats first: most workspaces have few runs with checkpoints left
    for run_id in run_ids:
        files = [f for collect in COLLECTORS.values()
                 for f in collect(run_id, ws.runs_dir / run_id)]
        if files:
            found[run_id] = files
    if not found:
        return plan
    runs: list[Run] = []  # every run, for the ranking
    for run_id in run_ids:
        try:
            runs.append(load_run(ws, run_id))
        except ExpctlError as exc:
            plan.problems.append(f"{run_id}: {exc.message}")
    candidates = {r.id: (r, found[r.id]) for r in runs if r.id in found}
    from expctl.registry.settings import read_settings

    settings = read_settings(ws)
    fixed = rule.metric or settings.board_metric
    best = _best(settings, runs, rule, fixed)
    baseline = settings.baseline
    for run_id, (run, files) in candidates.items():
        try:
            tags = read_tags(run.path)
            reason = _keep_reason(run, rule, baseline, best, tags, fixed)
        except ExpctlError as exc:  # an unreadable annotations.yaml: keep, and say why
            reason = f"unreadable: {exc.message}"
        if reason:
            plan.kept[run_id] = reason
        else:
            plan.files.extend(files)
    return plan


def apply_gc(ws: Workspace, plan: GcPlan) -> tuple[list[GcFile], list[str]]:
    """Delete the plan's files run by run, under each run's lock, checking again that the
    run is idle; returns the files deleted and the problems met."""
    deleted: list[GcFile] = []
    problems: list[str] = []
    for run_id in plan.runs:
        files = [f for f in plan.files if f.run_id == run_id]
        try:
            run = load_run(ws, run_id)
        except ExpctlError as exc:
            problems.append(f"{run_id}: {exc.message}")
            continue
        with locked(run.path):
            reason = busy_reason(run)
            if reason:
                problems.append(f"{run_id}: {reason} now; its files were left")
                continue
            top = (run.path / CHECKPOINT_DIR).resolve()
            for f in files:
                if f.path.is_symlink() or not f.path.resolve().is_relative_to(top):
                    problems.append(f"{run_id}: `{f.path}` changed into a link; left")
                    continue
                try:
                    f.path.unlink()
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    problems.append(f"{run_id}: cannot delete `{f.path}`: {exc.strerror}")
                    continue
                deleted.append(f)
    return deleted, problems


# --- the rule ------------------------------------------------------------------------------------


def _keep_reason(run: Run, rule: GcRule, baseline: str | None, best: dict[str, str],
                 tags: list[str], fixed: str | None) -> str | None:
    busy = busy_reason(run)
    if busy:
        return busy
    if run.id == baseline:
        return "the baseline"
    if run.id in best:
        return best[run.id]
    protected = [t for t in tags if not rule.keep_tags or t in rule.keep_tags]
    if protected:
        return f"tagged {', '.join(protected)}"
    metric = fixed or _primary(run)
    if metric is None:
        return "no metric to rank it by (--metric M)"
    if metric not in run.metrics():
        return f"no {metric} recorded yet"
    return None


def _best(settings, runs: list[Run], rule: GcRule, fixed: str | None) -> dict[str, str]:
    """{run id: "best N by M (rank r)"} for the runs within the best `keep_best` of their
    metric (`fixed`, else each run's primary); equal values share a rank, so a tie at the
    cut keeps every run in it."""
    groups: dict[str, list[tuple[float, str]]] = {}
    for run in runs:
        metric = fixed or _primary(run)
        value = run.metrics().get(metric) if metric else None
        if value is not None:
            groups.setdefault(metric, []).append((value, run.id))
    best: dict[str, str] = {}
    for metric, values in groups.items():
        higher = settings.direction(metric) == "higher"
        values.sort(key=lambda v: (-v[0] if higher else v[0], v[1]))
        rank = 0
        for i, (value, run_id) in enumerate(values):
            if i == 0 or value != values[i - 1][0]:
                rank = i + 1
            if rank > rule.keep_best:
                break
            best[run_id] = f"best {rule.keep_best} by {metric} (rank {rank})"
    return best


def _primary(run: Run) -> str | None:
    metrics = run.config().get("metrics")
    primary = metrics.get("primary") if isinstance(metrics, dict) else None
    return primary if isinstance(primary, str) else None
