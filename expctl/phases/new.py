"""New: create a run folder from a recipe (resolved config, git and environment snapshot,
hypothesis template) and index it; a refused registry leaves no folder behind. `new --from
RUN` starts from another run's resolved config instead (fork_run)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from expctl.errors import BadInputError, ConflictError, RegistryError
from expctl.files import shared_mode, write_text_atomic, write_yaml
from expctl.ids import check_run_id
from expctl.rundir import (
    CONFIG_FILE,
    ENVIRONMENT_FILE,
    HYPOTHESIS_FILE,
    RUN_FILE,
    SUBDIRS,
    now_iso,
)
from expctl.runs import GitState, Run, RunInfo, info_data, isolation_for, load_run
from expctl.workspace import Workspace
from expctl.worktree import create_tree, remove_tree, write_git_files


def new_run(ws: Workspace, run_id: str, recipe_name: str | None = None,
            overrides: list[str] = (), hypothesis: str | None = None,
            from_run: str | None = None) -> Run:
    """Create the run (from a recipe, or from run `from_run`'s config), index it and make it
    the current run. Bad input creates nothing; a registry that refuses the row removes the
    folder this call just made."""
    from expctl.registry import index_runs

    if from_run is not None:
        if recipe_name is not None:
            raise BadInputError("Give --recipe or --from, not both.",
                                hint="--from takes the recipe of the run it starts from")
        run = fork_run(ws, run_id, from_run, overrides, hypothesis)
    else:
        run = create_run(ws, run_id, recipe_name, overrides, hypothesis)
    try:
        index_runs(ws, [run.id])
    except RegistryError:
        shutil.rmtree(run.path)
        remove_tree(ws, run.id)  # only what this call just made
        raise
    ws.set_current_run(run.id)
    return run


def create_run(
    ws: Workspace,
    run_id: str,
    recipe_name: str | None = None,
    overrides: list[str] = (),
    hypothesis: str | None = None,
    sweep: str | None = None,
) -> Run:
    """Create runs/<run_id> from a recipe: resolved config, git and environment snapshot."""
    from expctl.recipes import load_recipe, parse_steps, recipe_for_run_id, steps_override

    check_run_id(run_id)
    if (ws.runs_dir / run_id).exists():
        raise ConflictError(
            f"Run `{run_id}` already exists.", hint="pick another id, or see `expctl show`"
        )
    steps = None
    if recipe_name is None:
        recipe_name, steps = recipe_for_run_id(ws, run_id)
    elif run_id.startswith(recipe_name + "_"):
        steps = parse_steps(run_id[len(recipe_name) + 1 :])
    all_overrides = list(overrides)
    if steps is not None:
        from expctl.recipes import load_raw

        all_overrides.insert(0, steps_override(recipe_name, load_raw(ws, recipe_name), steps))
    recipe, config = load_recipe(ws, recipe_name, all_overrides)
    return write_run_folder(ws, run_id, recipe_name, recipe, config, list(overrides), hypothesis,
                            sweep=sweep)


def fork_run(ws: Workspace, new_id: str, source_id: str, overrides: list[str] = (),
             hypothesis: str | None = None) -> Run:
    """Create runs/<new_id> from run `source_id`: its config.yaml as it was run (later edits
    of the recipe file do not reach it), its recipe name and --set history, then `overrides`;
    a `{recipe}_{steps}` id sets the steps. A fresh snapshot; run.yaml records forked_from."""
    import copy

    from expctl.files import validate
    from expctl.recipes import (
        Recipe,
        apply_override,
        parse_steps,
        recipe_to_dict,
        steps_override,
    )

    check_run_id(new_id)
    source = load_run(ws, check_run_id(source_id, "source run id"))
    if (ws.runs_dir / new_id).exists():
        raise ConflictError(f"Run `{new_id}` already exists.",
                            hint="pick another id, or see `expctl show`")
    if source.info.imported:
        raise BadInputError(f"Run `{source.id}` was imported: it has results but no recipe "
                            "config to start from.",
                            hint="create the run from a recipe: expctl new ID --recipe NAME")
    config = copy.deepcopy(source.config())
    where = str(source.path / CONFIG_FILE)
    validate(Recipe, config, where)  # a hand-edited config.yaml is refused naming the file
    applied = list(overrides)
    name = source.info.recipe
    if name and new_id.startswith(name + "_"):
        steps = parse_steps(new_id[len(name) + 1:])
        if steps is not None:
            applied.insert(0, steps_override(name, config, steps))
    for override in applied:
        apply_override(config, override)
    recipe = validate(Recipe, config, f"{where} with the overrides")
    return write_run_folder(ws, new_id, name, recipe, recipe_to_dict(recipe),
                            [*source.info.overrides, *overrides], hypothesis,
                            forked_from=source.id)


def write_run_folder(ws: Workspace, run_id: str, recipe_name: str | None, recipe: Any,
                     config: dict, overrides: list[str], hypothesis: str | None = None,
                     forked_from: str | None = None, sweep: str | None = None) -> Run:
    """Snapshot git and the environment and write runs/<run_id> for a resolved recipe.

    The folder is assembled under a temporary name and renamed into place, so a failure
    leaves nothing behind and two `new` of the same id cannot both succeed."""
    from expctl.snapshot import environment_text, git_snapshot

    git = git_snapshot(ws.root, exclude=(ws.runs_dir, ws.state_dir))
    info = RunInfo(
        id=run_id,
        recipe=recipe_name,
        created=now_iso(),
        steps=recipe.steps(),
        hypothesis=hypothesis,
        overrides=overrides,
        forked_from=forked_from,
        git=GitState(**git.as_dict()),
        isolation=isolation_for(recipe.isolation, git),
        sweep=sweep,
    )
    ws.runs_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".new-{run_id}-", dir=ws.runs_dir))
    try:
        os.chmod(tmp, shared_mode(folder=True))  # mkdtemp makes it 0700 whatever the umask
        for sub in SUBDIRS:
            (tmp / sub).mkdir()
        write_yaml(tmp / CONFIG_FILE, config)
        write_yaml(tmp / RUN_FILE, info_data(info))
        write_git_files(tmp, git)
        write_text_atomic(tmp / ENVIRONMENT_FILE, environment_text())
        write_text_atomic(tmp / HYPOTHESIS_FILE, hypothesis_text(run_id, recipe, info))
        os.rename(tmp, ws.runs_dir / run_id)  # fails if the id appeared meanwhile
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if (ws.runs_dir / run_id).exists():
            raise ConflictError(f"Run `{run_id}` already exists.") from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if info.isolation.mode == "tree":  # the run's private working tree (expctl/worktree.py)
        try:
            create_tree(ws, run_id, git, recipe.launch.links)
        except BaseException:
            shutil.rmtree(ws.runs_dir / run_id, ignore_errors=True)  # just made: no trace left
            raise
    return Run(ws.runs_dir / run_id, info)


def hypothesis_text(run_id: str, recipe: Any, info: RunInfo) -> str:
    """The documentation template a researcher fills in (USERS.md's standard)."""
    criteria = "\n".join(f"- {k} {v}" for k, v in recipe.criteria.items())
    criteria = criteria or "- (none in the recipe)"
    changes = "\n".join(f"  - `{o}`" for o in info.overrides) or "  - none (recipe defaults)"
    forked = (f"\n- Started from run `{info.forked_from}` (its config.yaml, then the overrides)"
              if info.forked_from else "")
    if info.git.available:
        sha = info.git.sha[:12] if info.git.sha else "(no commit)"
        git = f"{sha} on {info.git.branch or 'detached HEAD'}"
        git += ", with uncommitted changes (git.patch)" if info.git.dirty else ""
    else:
        git = f"no git ({info.git.reason})"
    return f"""# {run_id}

## Hypothesis
{info.hypothesis or "(write the hypothesis here)"}

## Success criteria
{criteria}

## Modification details
- Recipe: `{info.recipe}`{f" ({recipe.model})" if recipe.model else ""}{forked}
- Planned steps: {info.steps if info.steps is not None else "not set"}
- Overrides:
{changes}

## Implementation details
- Code: {git}
- Config backup: config.yaml; exact training command: training_command.txt

## Memory tests
(batch size that fits, OOM tests)
"""
