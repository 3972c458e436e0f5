"""What a run's path patterns can say: `{run_id}`, `{run_dir}`, `{steps}`, `{workspace}` and
params, and how a pattern becomes files (used by metric sources and by gather)."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from expctl.recipes import Recipe, render_command
from expctl.rundir import CONFIG_FILE
from expctl.runs import Run
from expctl.workspace import Workspace
from expctl.worktree import job_workdir


def run_recipe(run: Run) -> Recipe:
    """The resolved recipe the run was created with (its config.yaml)."""
    from expctl.files import validate

    return validate(Recipe, run.config(), str(run.path / CONFIG_FILE))


def run_context(ws: Workspace, run: Run, recipe: Recipe) -> dict[str, Any]:
    """Placeholder values besides the params. `{workdir}` is where the training ran: in the
    run's private tree, or in the workspace when the run shares it."""
    context: dict[str, Any] = {"run_id": run.id, "run_dir": str(run.path),
                               "workspace": str(ws.root),
                               "workdir": str(job_workdir(ws, run, recipe, "train"))}
    steps = run.info.steps if run.info.steps is not None else recipe.steps()
    if steps is not None:
        context["steps"] = steps
    return context


def render_pattern(pattern: str, recipe: Recipe, context: dict[str, Any]) -> str:
    """A path pattern with its placeholders filled in (an unknown one is a clear error)."""
    # A one-item list template is never shell-split, so spaces and quotes stay as written.
    return render_command([pattern], recipe.params, context)[0]


def expand(pattern: str, base: Path) -> list[Path]:
    """Existing paths a rendered pattern names: relative to `base`, `**` allowed, sorted."""
    path = Path(pattern).expanduser()
    if not path.is_absolute():
        path = base / path
    text = str(path)
    if glob.has_magic(text):
        return sorted(Path(p) for p in glob.glob(text, recursive=True))
    return [path] if path.exists() else []


def newest(paths: list[Path]) -> Path:
    """The most recently modified of `paths` (the file a log source should read)."""
    return max(paths, key=lambda p: (p.stat().st_mtime_ns, str(p)))
