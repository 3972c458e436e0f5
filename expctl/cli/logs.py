"""`expctl logs`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app
from expctl.cli.params import run_argument
from expctl.cli.shared import load_given_run

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl logs 3scale_sizeaware_100k -n 50
  expctl logs -F                     # follow the current run until it ends
"""


@app.command(epilog=EXAMPLES)
def logs(
    run_id: str | None = run_argument(),
    follow: bool = typer.Option(False, "--follow", "-F", help="Keep printing until the run ends "
                                "(Ctrl-C stops following, not the job)."),
    lines: int = typer.Option(20, "--lines", "-n", metavar="N", help="How many last lines to "
                              "show first."),
) -> None:
    """Print or follow a run's training log.

    The end of training_logs/stdout.log: every byte the job printed, carriage returns
    included; a carriage return counts as a line break, so -n shows the last states of a
    progress bar."""
    from expctl import console
    from expctl.errors import ConflictError
    from expctl.launchers.control import follow as follow_file
    from expctl.launchers.control import log_path, tail
    from expctl.state import run_status

    run = load_given_run(run_id)
    path = log_path(run)
    if not path.exists() and run_status(run).state in ("created", "queued", "blocked"):
        # An error like `wait` and `stop`: a script must not mistake "no log" for "empty log".
        raise ConflictError(f"Run `{run.id}` has not been launched: no log yet.",
                            hint=f"launch it with `expctl launch {run.id}`")
    def running() -> bool:
        return run_status(run).state == "running"

    try:  # Ctrl-C at any moment, not only while following, says that the job goes on
        text, offset = tail(path, lines)
        console.passthrough(text)  # byte for byte: carriage returns of progress bars included
        if follow:
            for chunk in follow_file(path, offset, running):
                console.passthrough(chunk)
            console.info(f"run {run.id}: {_final_text(run)}")
    except KeyboardInterrupt:
        from expctl.cli.watching import interrupted

        raise typer.Exit(interrupted(run)) from None


def _final_text(run) -> str:
    from expctl.launchers.status import status_text
    from expctl.state import run_status

    return status_text(run_status(run))
