"""`expctl import`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from pathlib import Path

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import recipe_option

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl import paper_table.csv --recipe 3scale_baseline
  expctl import results.jsonl     # lines of {"id", "metrics", "params"}
"""


@app.command("import", epilog=EXAMPLES)
def import_cmd(
    file: Path = typer.Argument(..., metavar="FILE", help="CSV (id column + one column per "
                                "metric) or JSONL ({\"id\", \"metrics\", \"params\"} per "
                                "line)."),
    recipe: str | None = recipe_option("Recipe name to record on the imported runs; only its "
                                       "spelling is checked, as the results may come from a "
                                       "recipe not in recipes/."),
) -> None:
    """Bring in results obtained elsewhere as imported runs.

    Every row is checked before anything is written; the runs are marked imported (ls,
    leaderboard) and importing again updates them."""
    from expctl import console
    from expctl.phases.importer import import_runs

    ws = get_workspace()
    result = import_runs(ws, file, recipe)
    console.success(f"imported {result.created + result.updated} runs from {file.name}"
                    f" ({result.created} new, {result.updated} updated)")
