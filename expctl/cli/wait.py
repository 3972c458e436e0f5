"""`expctl wait`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import run_argument
from expctl.cli.shared import load_given_run

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl wait 3scale_sizeaware_100k
  expctl launch && expctl wait && expctl gather   # the current run
  expctl wait 3scale_sizeaware_100k --timeout 3600 || echo "not done yet"
"""


@app.command(epilog=EXAMPLES)
def wait(
    run_id: str | None = run_argument(),
    timeout: float | None = typer.Option(None, "--timeout", min=0.0, metavar="SECONDS",
                                         help="Give up after this long (exit 124)."),
) -> None:
    """Wait for a run to end, showing its progress.

    Shows step/planned steps, the time since the job started, one ETA from the job's own
    pace and the latest loss: a bar on a terminal, a plain line at most every 10 s off one.

    Exits with the run's code: 0 finished, the job's code if it failed, 128+signal if it was
    killed or stopped, 125 if it was lost, 124 if --timeout ran out. Ctrl-C stops only the
    waiting (exit 130): the job goes on until `expctl stop RUN`."""
    from expctl import console
    from expctl.cli.watching import interrupted, watch_job
    from expctl.errors import ConflictError
    from expctl.launchers.control import TIMEOUT_EXIT_CODE, exit_code_for
    from expctl.launchers.status import status_text
    from expctl.state import run_status

    run = load_given_run(run_id)
    try:
        if run_status(run).state == "created":
            raise ConflictError(f"Run `{run.id}` has not been launched.",
                                hint=f"launch it with `expctl launch {run.id}`")
        final, timed_out = watch_job(get_workspace(), run, timeout)
    except KeyboardInterrupt:
        raise typer.Exit(interrupted(run)) from None
    if timed_out:
        console.error(f"run {run.id} is still running after {timeout:g}s")
        raise typer.Exit(TIMEOUT_EXIT_CODE)
    code = exit_code_for(final)
    message = f"run {run.id}: {status_text(final)}"
    if code == 0:
        console.success(message)
    else:
        console.error(message)
    raise typer.Exit(code)
