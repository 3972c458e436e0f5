"""`expctl archive`: move runs to runs/.archive/ (out of ls), or back with --restore.
Implementation: expctl.removal."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.confirm import YES_HELP

app = command_app()  # this module's command, built when it runs


@app.command("archive")
def archive_cmd(
    runs: list[str] = typer.Argument(..., help="Run ids to archive (or restore).",
                                     show_default=False),
    restore: bool = typer.Option(False, "--restore", help="Bring archived runs back into runs/ "
                                 "and the registry."),
    yes: bool = typer.Option(False, "--yes", "-y", help=YES_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be moved; change "
                                 "nothing."),
) -> None:
    """Move runs to runs/.archive/, out of ls and the leaderboard.

    Move runs to runs/.archive/<id>/: kept on disk, gone from ls and the leaderboard
    (`ls --archived` lists them)."""
    from expctl.cli.removing import carry_out

    carry_out(get_workspace(), runs, "restore" if restore else "archive", yes, dry_run)
