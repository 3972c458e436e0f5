"""`expctl rm`: delete run folders and their registry rows. Implementation: expctl.removal."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.confirm import YES_HELP

app = command_app()  # this module's command, built when it runs


@app.command("rm")
def rm_cmd(
    runs: list[str] = typer.Argument(..., help="Run ids to delete.", show_default=False),
    yes: bool = typer.Option(False, "--yes", "-y", help=YES_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be deleted; change "
                                 "nothing."),
) -> None:
    """Delete runs: their folders and registry rows.

    Delete runs: their folders and registry rows (never a running run; links not followed)."""
    from expctl.cli.removing import carry_out

    carry_out(get_workspace(), runs, "remove", yes, dry_run)
