"""`expctl clean-trees`: remove the private working trees that no run needs any more.

A tree may go once its run is done with it: the training finished, the artifacts were
gathered (every required one), validation (if the recipe has one) finished and gathered, and
the metrics were recorded (if the recipe has sources). Trees of deleted runs go too. A tree of
a run that is running, being validated, never launched (the tree is its recorded code) or
failed (a resume continues in it) is kept, and so is any folder expctl did not make.
Gathered checkpoints survive: they are hard links or copies in the run folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from expctl.errors import ExpctlError
from expctl.ids import check_run_id
from expctl.runs import load_run
from expctl.state import run_state, validation_state
from expctl.workspace import Workspace
from expctl.worktree import read_marker, remove_tree, tree_ids, tree_path, tree_size


@dataclass
class CleanResult:
    removed: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # run id -> why its tree stays
    freed: int = 0  # bytes


def clean_trees(ws: Workspace, run_ids: list[str] | None = None) -> CleanResult:
    """Remove the trees of `run_ids` (default: every expctl-made tree) that may go."""
    result = CleanResult()
    for run_id in run_ids if run_ids is not None else tree_ids(ws):
        check_run_id(run_id)
        why = _why_kept(ws, run_id)
        if why:
            result.kept[run_id] = why
            continue
        size = tree_size(tree_path(ws, run_id))
        if remove_tree(ws, run_id):
            result.removed.append(run_id)
            result.freed += size
    return result


def _why_kept(ws: Workspace, run_id: str) -> str | None:
    """Why the run still needs its tree, or None when it may go."""
    from expctl.metrics.context import run_recipe
    from expctl.rundir import Manifest

    if read_marker(ws, run_id) is None:
        return "it has no tree made by expctl"
    if not (ws.runs_dir / run_id).is_dir():
        return None  # the run was deleted
    try:
        run = load_run(ws, run_id)
        recipe = run_recipe(run)
    except ExpctlError as exc:
        return f"its run folder cannot be read ({exc.message})"
    state = run_state(run)
    if state == "created":
        return "never launched: the tree is the code it recorded"
    if state == "running":
        return "running"
    if state != "finished":
        return f"{state}: `expctl launch {run_id} --resume` continues in it"
    manifest = Manifest.load(run.path)
    phases = ["train"] + (["validate"] if recipe.validation is not None else [])
    if recipe.validation is not None:
        validated = validation_state(run)
        if validated != "finished":
            return "not validated yet" if validated == "none" else f"validation {validated}"
    for phase in phases:
        wanted = [n for n, a in recipe.artifacts.items() if a.phase == phase]
        required = [n for n in wanted if recipe.artifacts[n].required]
        if wanted and not manifest.path.exists() or any(
                not manifest.entries_for(n, phase) for n in required):
            return f"its {phase} artifacts are not gathered yet"
    if recipe.metrics.sources and run.results() is None:
        return "not recorded yet"
    return None
