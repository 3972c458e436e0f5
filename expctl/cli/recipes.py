"""`expctl recipes`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import check_format, command_app, get_workspace

app = command_app()  # this module's command, built when it runs


@app.command("recipes")
def recipes_cmd(
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
) -> None:
    """List the workspace's recipes.

    List the workspace's recipes with their descriptions."""
    from expctl import console
    from expctl.recipes import list_recipes

    check_format(fmt, console.TABLE_FORMATS)
    ws = get_workspace()
    rows = list_recipes(ws)
    if not rows:
        console.warn(f"no recipes in {ws.recipes_dir}")
    console.table(["recipe", "description"], rows, fmt)
