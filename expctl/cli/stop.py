"""`expctl stop`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import run_argument
from expctl.cli.shared import load_given_run, update_index

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl stop 3scale_sizeaware_100k
  expctl stop 3scale_sizeaware_100k --grace 120   # 2 minutes to save and exit
  expctl stop --force                             # the current run, SIGKILL
"""


@app.command(epilog=EXAMPLES)
def stop(
    run_id: str | None = run_argument(),
    force: bool = typer.Option(False, "--force", help="SIGKILL the job's processes now."),
    grace: float = typer.Option(30.0, "--grace", min=0.0, metavar="SECONDS", help="Time the "
                                "job gets after SIGINT (to save and exit) before SIGTERM, then "
                                "SIGKILL."),
) -> None:
    """Stop a running job and everything it started.

    SIGINT first, so the job can save and exit, then SIGTERM and SIGKILL after the grace
    period; works also when the job's supervisor has died, and the exit record is written."""
    from expctl import console
    from expctl.launchers.control import stop_job
    from expctl.launchers.status import status_text

    run = load_given_run(run_id)
    final = stop_job(run, force=force, grace=grace, notify=console.info)
    console.success(f"run {run.id}: {status_text(final)}")
    update_index(get_workspace(), run.id)  # the registry keeps each run's state for `ls`
