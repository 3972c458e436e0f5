"""`expctl new`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import (
    complete_recipes_and_runs,
    recipe_option,
    run_option,
    set_option,
)

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl new 3scale_sizeaware_100k
  expctl new 4scale_enhanced_1k --set +train.batch_size=16
  expctl new sizeaware_try2 -r 3scale_sizeaware -s train.max_steps=500
  expctl new 3scale_sizeaware_300 --hypothesis "small boxes gain"
  expctl new 3scale_baseline_200k --from 3scale_baseline_100k
"""


@app.command(epilog=EXAMPLES)
def new(
    run_id: str = typer.Argument(..., metavar="RUN", help="New run id, e.g. "
                                 "3scale_sizeaware_100k: {recipe}_{steps} picks the recipe by "
                                 "longest prefix and sets its steps.",
                                 autocompletion=complete_recipes_and_runs),
    recipe: str | None = recipe_option("Recipe to use (default: from the run id)."),
    sets: list[str] = set_option("Override a param (repeatable); +KEY=VALUE adds a key the "
                                 "recipe lacks."),
    hypothesis: str | None = typer.Option(
        None, "--hypothesis", metavar="HYPOTHESIS", help="What this run tests (goes into "
        "experiment_hypothesis.md).",
    ),
    from_run: str | None = run_option(None, "--from", help="Start from this run's config and "
                                      "overrides (then --set on top) instead of a recipe."),
) -> None:
    """Create a run folder with its config and code snapshot.

    Resolves the recipe with the overrides into config.yaml, records the git state (SHA,
    dirty diff, untracked files) and the environment, checks the code out as the run's private
    working tree, registers the run and makes it the current run."""
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
