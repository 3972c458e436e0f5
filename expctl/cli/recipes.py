"""`expctl recipes`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from typing import Literal

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import format_option

app = command_app()  # this module's command, built when it runs

RecipesFormat = Literal["table", "json", "csv"]
EXAMPLES = """Examples:

\b
  expctl recipes
  expctl recipes --format json
"""


@app.command("recipes", epilog=EXAMPLES)
def recipes_cmd(fmt: RecipesFormat = format_option(RecipesFormat)) -> None:
    """List the workspace's recipes.

    One line per file of recipes/ with its description: the names `new --recipe` takes and
    the prefixes run ids pick their recipe by."""
    from expctl import console
    from expctl.recipes import list_recipes

    ws = get_workspace()
    rows = list_recipes(ws)
    if not rows:
        console.warn(f"no recipes in {ws.recipes_dir}")
    console.table(["recipe", "description"], rows, fmt)
