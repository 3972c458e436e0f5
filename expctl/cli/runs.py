"""Commands that create things: init, new, recipes."""

from __future__ import annotations

from pathlib import Path

import typer

from expctl.cli.app import app, get_workspace


@app.command()
def init(
    directory: Path | None = typer.Argument(
        None, help="Folder to make a workspace (default: the -C folder, else here).",
        show_default=False,
    ),
) -> None:
    """Make a folder an expctl workspace: expctl.yaml, recipes/ (with a commented example when
    empty), runs/, .gitignore entries."""
    from expctl import console
    from expctl.cli.app import explicit_workspace
    from expctl.workspace import init_workspace

    ws, created = init_workspace(directory or Path(explicit_workspace() or "."),
                                 example_recipe=True)
    for item in created:
        console.info(f"created {item}")
    done = f"workspace ready at {ws.root}" if created else f"{ws.root} is already a workspace"
    console.success(done)


@app.command()
def new(
    run_id: str = typer.Argument(..., help="Run id, e.g. 3scale_sizeaware_100k: {recipe}_{steps} "
                                 "picks the recipe by longest prefix and sets its steps."),
    recipe: str | None = typer.Option(
        None, "--recipe", "-r", help="Recipe to use (default: from the run id)."
    ),
    sets: list[str] = typer.Option([], "--set", "-s", help="Override key.path=value (repeatable); "
                                   "+key.path=value adds a new key."),
    hypothesis: str | None = typer.Option(
        None, "--hypothesis", help="What this run tests (goes into experiment_hypothesis.md)."
    ),
    from_run: str | None = typer.Option(
        None, "--from", help="Start from this run's config and overrides (then --set on top) "
        "instead of a recipe.", show_default=False,
    ),
) -> None:
    """Create a run folder with its resolved config and git/environment snapshot, register it,
    and make it the current run."""
    from expctl import console
    from expctl.phases.new import new_run

    ws = get_workspace()
    run = new_run(ws, run_id, recipe, sets, hypothesis, from_run)  # bad input: no folder
    git = run.info.git
    state = (f"git {git.sha[:10]}{' (dirty)' if git.dirty else ''}" if git.available and git.sha
             else "git: no commit yet" if git.available else f"no git ({git.reason})")
    source = f"from {run.info.forked_from}, " if run.info.forked_from else ""
    console.success(f"created run {run.id} ({source}recipe {run.info.recipe}, "
                    f"{run.info.steps if run.info.steps is not None else '?'} steps, {state})")
    if run.info.isolation.mode == "none":
        console.info(f"its jobs share the workspace: {run.info.isolation.reason}")
    console.out(str(run.path))


@app.command()
def snapshot(
    run_id: str | None = typer.Argument(None, help="Run id (default: the current run)."),
) -> None:
    """Take a fresh snapshot of the workspace's code (git state and the private working tree)
    for a run that was never launched."""
    from expctl import console
    from expctl.refresh import refresh_snapshot
    from expctl.runs import resolve_run_id

    ws = get_workspace()
    run = refresh_snapshot(ws, resolve_run_id(ws, run_id))
    git = run.info.git
    state = (f"git {git.sha[:10]}{' (dirty)' if git.dirty else ''}" if git.available and git.sha
             else f"no git ({git.reason})")
    console.success(f"run {run.id} now records {state}")


@app.command("clean-trees")
def clean_trees_cmd(
    run_ids: list[str] = typer.Argument(None, help="Runs whose trees to remove (default: every "
                                        "tree that may go).", show_default=False),
) -> None:
    """Remove the private working trees of runs that are done with them: finished, gathered
    and recorded (and trees of deleted runs). Others are kept, each with the reason."""
    from expctl import console
    from expctl.tree_cleanup import clean_trees

    ws = get_workspace()
    result = clean_trees(ws, run_ids or None)
    for run_id in result.removed:
        console.info(f"removed the tree of {run_id}")
    for run_id, why in result.kept.items():
        console.warn(f"kept the tree of {run_id}: {why}")
    console.success(f"removed {len(result.removed)} tree(s), freed "
                    f"{result.freed / 1e6:.1f} MB")
    if run_ids and result.kept:
        from expctl.errors import ConflictError

        raise ConflictError(f"Kept {len(result.kept)} of the trees named: their runs still "
                            "need them.")


@app.command("recipes")
def recipes_cmd(
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
) -> None:
    """List the workspace's recipes with their descriptions."""
    from expctl import console
    from expctl.cli.app import check_format
    from expctl.recipes import list_recipes

    check_format(fmt, console.TABLE_FORMATS)
    ws = get_workspace()
    rows = list_recipes(ws)
    if not rows:
        console.warn(f"no recipes in {ws.recipes_dir}")
    console.table(["recipe", "description"], rows, fmt)


