"""`expctl gather`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import check_format, command_app, get_workspace
from expctl.cli.shared import RUN_HELP, show_gathered

app = command_app()  # this module's command, built when it runs


@app.command("gather")
def gather_cmd(
    run_id: str | None = typer.Argument(None, help=RUN_HELP),
    move: bool = typer.Option(False, "--move", help="Move files instead of linking/copying."),
    phase: str = typer.Option("train", "--phase", help="Whose artifacts: train or validate."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
) -> None:
    """Bring a run's checkpoint, matrices and logs into its folder.

    Bring the artifacts the recipe declares (checkpoint, confusion matrices, logs) into the
    run folder: only files written during this run's phase; the checkpoint becomes
    checkpoints/final_model.ckpt."""
    from expctl import console
    from expctl.phases.gather import gather
    from expctl.runs import load_run, resolve_run_id

    check_format(fmt, console.TABLE_FORMATS)
    ws = get_workspace()
    run = load_run(ws, resolve_run_id(ws, run_id))
    result = gather(ws, run, phase, move=move)
    show_gathered(result, fmt)
    result.check()
