"""`expctl init`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from pathlib import Path

import typer

from expctl.cli.app import command_app, explicit_workspace

app = command_app()  # this module's command, built when it runs


@app.command()
def init(
    directory: Path | None = typer.Argument(
        None, help="Folder to make a workspace (default: the -C folder, else here).",
        show_default=False,
    ),
) -> None:
    """Make a folder an expctl workspace.

    Make a folder an expctl workspace: expctl.yaml, recipes/ (with a commented example when
    empty), runs/, .gitignore entries."""
    from expctl import console
    from expctl.workspace import init_workspace

    ws, created = init_workspace(directory or Path(explicit_workspace() or "."),
                                 example_recipe=True)
    for item in created:
        console.info(f"created {item}")
    done = f"workspace ready at {ws.root}" if created else f"{ws.root} is already a workspace"
    console.success(done)
