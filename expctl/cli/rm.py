"""`expctl rm`: delete run folders and their registry rows. Implementation: expctl.removal."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.confirm import YES_HELP
from expctl.cli.params import run_argument

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl rm 3scale_sizeaware_1k --dry-run
  expctl rm 3scale_sizeaware_1k 3scale_sizeaware_2k --yes
"""


@app.command("rm", epilog=EXAMPLES)
def rm_cmd(
    runs: list[str] = run_argument("Run ids to delete.", required=True, many=True),
    yes: bool = typer.Option(False, "--yes", "-y", help=YES_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be deleted; change "
                                 "nothing."),
) -> None:
    """Delete runs: their folders and registry rows.

    Asks first (or --yes); never deletes a running run, follows no link out of a run folder
    and touches no other run's files."""
    from expctl.cli.removing import carry_out

    carry_out(get_workspace(), runs, "remove", yes, dry_run)
