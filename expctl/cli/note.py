"""`expctl note`: add a note to a run. Implementation: expctl.annotations."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace

app = command_app()  # this module's command, built when it runs


@app.command("note")
def note_cmd(
    run: str = typer.Argument(..., help="Run id.", show_default=False),
    text: str | None = typer.Argument(None, help="The note (quote it); shown by `show` with "
                                      "the time it was written.", show_default=False),
    clear: bool = typer.Option(False, "--clear", help="Delete all of the run's notes."),
) -> None:
    """Add a dated note to a run.

    Add a dated note to a run (kept in its annotations.yaml, shown by `show`)."""
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
