"""`expctl note`: add a note to a run. Implementation: expctl.annotations."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import run_argument

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl note 3scale_sizeaware_100k "loss spikes at 40k: lr too high?"
  expctl note 3scale_sizeaware_100k --clear
"""


@app.command("note", epilog=EXAMPLES)
def note_cmd(
    run: str = run_argument("Run id.", required=True),
    text: str | None = typer.Argument(None, metavar="NOTE", help="The note (quote it); shown "
                                      "by `show` with the time it was written.",
                                      show_default=False),
    clear: bool = typer.Option(False, "--clear", help="Delete all of the run's notes."),
) -> None:
    """Add a dated note to a run.

    Notes are kept in the run's annotations.yaml (so `reindex` keeps them) and shown by
    `show` with the time each was written."""
    from expctl import console
    from expctl.annotations import add_note, clear_notes
    from expctl.errors import BadInputError
    from expctl.runs import load_run

    ws = get_workspace()
    r = load_run(ws, run)
    if clear:
        if text is not None:
            raise BadInputError("Give a note or --clear, not both.")
        console.success(f"{r.id}: deleted {clear_notes(r)} note(s)")
        return
    if text is None:
        raise BadInputError("No note given.", hint=f'expctl note {r.id} "what you noticed"')
    note = add_note(r, text)
    console.success(f"{r.id}: note added at {note.at}")
