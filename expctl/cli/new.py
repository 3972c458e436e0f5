"""`expctl new`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace

app = command_app()  # this module's command, built when it runs


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
    """Create a run folder with its config and code snapshot.

    Create a run folder with its resolved config and git/environment snapshot, register it,
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
