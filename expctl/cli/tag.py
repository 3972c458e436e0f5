"""`expctl tag`: add or remove tags of a run. Implementation: expctl.annotations."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace

app = command_app()  # this module's command, built when it runs


@app.command("tag")
def tag_cmd(
    run: str = typer.Argument(..., help="Run id.", show_default=False),
    tags: list[str] = typer.Argument(..., help="Tags to add (or remove): letters, digits, "
                                     "`.`, `_` and `-`.", show_default=False),
    remove: bool = typer.Option(False, "--remove", help="Remove these tags instead."),
) -> None:
    """Tag a run, or remove its tags.

    Tag a run (kept in its annotations.yaml; shown by ls and show, filtered by --tag)."""
    from expctl import console
    from expctl.annotations import change_tags
    from expctl.registry import index_runs, open_registry
    from expctl.runs import load_run

    ws = get_workspace()
    r = load_run(ws, run)
    with open_registry(ws) as db:  # a broken registry is refused before the folder changes
        added, removed = ([], tags) if remove else (tags, [])
        now = change_tags(r, added, removed, then=lambda: index_runs(ws, [r.id], db))
    console.success(f"{r.id}: tags {', '.join(now) if now else '(none)'}")
