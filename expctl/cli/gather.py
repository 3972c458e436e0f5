"""`expctl gather`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from typing import Literal

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import choices_text, format_option, run_argument
from expctl.cli.shared import show_gathered

app = command_app()  # this module's command, built when it runs

GatherFormat = Literal["table", "json", "csv"]
Phase = Literal["train", "validate"]
EXAMPLES = """Examples:

\b
  expctl gather 3scale_sizeaware_100k
  expctl gather 3scale_sizeaware_100k --phase validate --format json
"""


@app.command("gather", epilog=EXAMPLES)
def gather_cmd(
    run_id: str | None = run_argument(),
    move: bool = typer.Option(False, "--move", help="Move files instead of linking/copying."),
    phase: Phase = typer.Option("train", "--phase", metavar="PHASE", help="Whose artifacts: "
                                f"{choices_text(Phase)}."),
    fmt: GatherFormat = format_option(GatherFormat),
) -> None:
    """Bring a run's checkpoint, matrices and logs into its folder.

    Takes the artifacts the recipe declares, only files written during this run's phase
    (never another run's leftovers); the checkpoint becomes checkpoints/final_model.ckpt, a
    hard link inside the run folder, else a copy (moved with --move)."""
    from expctl.phases.gather import gather
    from expctl.runs import load_run, resolve_run_id

    ws = get_workspace()
    run = load_run(ws, resolve_run_id(ws, run_id))
    result = gather(ws, run, phase, move=move)
    show_gathered(result, fmt)
    result.check()
