"""`expctl validate`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import run_argument
from expctl.cli.shared import launcher_flag, show_gathered, show_recorded

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl validate 3scale_sizeaware_100k
  expctl validate 3scale_sizeaware_100k --tmux   # detached; `wait` follows
"""


@app.command("validate", epilog=EXAMPLES)
def validate_cmd(
    run_id: str | None = run_argument(),
    screen: bool = typer.Option(False, "--screen", help="Run it detached in a screen session."),
    tmux: bool = typer.Option(False, "--tmux", help="Run it detached in a tmux session."),
    local: bool = typer.Option(False, "--local", help="Run it as a background process."),
    slurm: bool = typer.Option(False, "--slurm", help="Run it as a Slurm batch job."),
    while_training: bool = typer.Option(False, "--while-training", help="Go ahead although "
                                        "the run is still training (results not final)."),
) -> None:
    """Validate the gathered checkpoint, then gather and record.

    Runs the recipe's validate.command on checkpoints/final_model.ckpt, in the foreground
    unless a launcher is given, logs its output and exit code to
    validation_results/validation_output.log, then gathers the validation artifacts and
    records the metrics."""
    from expctl import console
    from expctl.runs import load_run, resolve_run_id

    ws = get_workspace()
    run = load_run(ws, resolve_run_id(ws, run_id))
    chosen = launcher_flag(screen, tmux, local, slurm)
    if chosen:
        from expctl.phases.validate import start_detached
        from expctl.rundir import VALIDATION_LOG

        session = start_detached(ws, run, chosen, while_training)
        from expctl.launchers import get_launcher

        handle = get_launcher(chosen).handle
        where = f"in {chosen} {handle} {session}" if session else "as a background process"
        console.success(f"validating {run.id} {where}; output in {run.path / VALIDATION_LOG}")
        return
    from expctl.cycle import validate_and_record

    done = validate_and_record(ws, run, echo=console.passthrough,
                               while_training=while_training)
    console.success(f"validation finished; output in {done.outcome.log}")
    show_gathered(done.gathered)
    show_recorded(ws, done.recorded)
    done.recorded.check_packages()
