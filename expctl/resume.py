"""`{last_checkpoint}` for a resumed attempt: this run's newest own checkpoint.

Found by the recipe's `checkpoint` artifact rule (its globs and pick) over the files this run
wrote itself: those modified inside its earlier attempts' training windows, or in its own
folder. A checkpoint past the run's planned steps is another run's, as gather says.
"""

from __future__ import annotations

import time
from pathlib import Path

from expctl.errors import BadInputError, ExpctlError, NotFoundError
from expctl.metrics.context import expand, render_pattern, run_context
from expctl.picking import pick_files, step_of
from expctl.recipes import Recipe
from expctl.runs import Run
from expctl.windows import Window, earlier_attempts, phase_window, timestamp
from expctl.workspace import Workspace

PLACEHOLDER = "last_checkpoint"
CHECKPOINT_ARTIFACT = "checkpoint"


def uses_last_checkpoint(items: list[str]) -> bool:
    """Whether a command template names `{last_checkpoint}`."""
    return any("{" + PLACEHOLDER + "}" in item for item in items)


def last_checkpoint(ws: Workspace, run: Run, recipe: Recipe, workdir: Path) -> Path:
    """The newest checkpoint of this run by the artifact rule; an error naming the globs
    when there is none."""
    spec = recipe.artifacts.get(CHECKPOINT_ARTIFACT)
    if spec is None:
        raise BadInputError(
            f"resume_args of run `{run.id}` use {{{PLACEHOLDER}}}, but its recipe declares no "
            f"`artifacts.{CHECKPOINT_ARTIFACT}` to find checkpoints by.",
            hint="add artifacts.checkpoint (glob, pick) to the recipe, e.g. with "
            "`launch --resume --set +artifacts.checkpoint.glob=...`")
    pick = spec.pick if spec.pick in ("newest", "highest_step") else "highest_step"
    window = _training_window(ws, run)
    context = run_context(ws, run, recipe)
    patterns = [render_pattern(g, recipe, context) for g in spec.glob]
    found: set[Path] = set()
    for pattern in patterns:
        for path in expand(pattern, workdir):
            if not path.is_file():
                continue
            own = path.resolve().is_relative_to(run.path.resolve())
            if own or window.contains(path.stat().st_mtime):
                found.add(path.resolve())
    if run.info.steps:
        found = {p for p in found if step_of(p)[0] <= run.info.steps}
    chosen = pick_files(sorted(found), pick)
    if not chosen:
        raise NotFoundError(
            f"No checkpoint of run `{run.id}` for {{{PLACEHOLDER}}}: nothing this run wrote "
            f"matches {', '.join(patterns)}.",
            hint="the earlier attempt may have ended before its first checkpoint: resume "
            "without it, or check the artifact's glob")
    return chosen[0]


def _training_window(ws: Workspace, run: Run) -> Window:
    """The run's training attempts so far; a lost attempt (no end recorded) runs to now."""
    try:
        return phase_window(ws, run, "train")
    except ExpctlError:
        from expctl.state import run_status

        started = (timestamp(run_status(run).started)
                   or timestamp(run.info.created))
        start = started[0] if started else time.time()
        return Window("train", start, time.time(), earlier_attempts(run))
