"""`expctl archive`: move runs to runs/.archive/ (out of ls), or back with --restore.
Implementation: expctl.removal."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.confirm import YES_HELP
from expctl.cli.params import complete_archived_or_runs

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl archive 3scale_sizeaware_1k 3scale_sizeaware_2k
  expctl ls --archived
  expctl archive 3scale_sizeaware_1k --restore
"""


@app.command("archive", epilog=EXAMPLES)
def archive_cmd(
    runs: list[str] = typer.Argument(..., metavar="RUN...", help="Run ids to archive (or "
                                     "restore).", show_default=False,
                                     autocompletion=complete_archived_or_runs),
    restore: bool = typer.Option(False, "--restore", help="Bring archived runs back into runs/ "
                                 "and the registry."),
    yes: bool = typer.Option(False, "--yes", "-y", help=YES_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be moved; change "
                                 "nothing."),
) -> None:
    """Move runs to runs/.archive/, out of ls and the leaderboard.

    Archived runs stay on disk in runs/.archive/<id>/ and leave the registry: `ls --archived`
    lists them, --restore brings them back."""
    from expctl.cli.removing import carry_out

    carry_out(get_workspace(), runs, "restore" if restore else "archive", yes, dry_run)
