"""`expctl init`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from pathlib import Path

import typer

from expctl.cli.app import command_app, explicit_workspace

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl init                   # here: usually your project's git repository
  expctl init ~/projects/detector
"""


@app.command(epilog=EXAMPLES)
def init(
    directory: Path | None = typer.Argument(
        None, metavar="DIR", help="Folder to make a workspace (default: the -C folder, else "
        "here).", show_default=False,
    ),
) -> None:
    """Make a folder an expctl workspace.

    Writes expctl.yaml, recipes/ (with a commented example.yaml when empty), runs/ and the
    .gitignore entries for the registry, machine-local state and checkpoints; existing files
    are kept."""
    from expctl import console
    from expctl.workspace import init_workspace

    ws, created = init_workspace(directory or Path(explicit_workspace() or "."),
                                 example_recipe=True)
    for item in created:
        console.info(f"created {item}")
    done = f"workspace ready at {ws.root}" if created else f"{ws.root} is already a workspace"
    console.success(done)
