"""`expctl snapshot`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace

app = command_app()  # this module's command, built when it runs


@app.command()
def snapshot(
    run_id: str | None = typer.Argument(None, help="Run id (default: the current run)."),
) -> None:
    """Take the code snapshot of a run again, before its launch.

    Take a fresh snapshot of the workspace's code (git state and the private working tree)
    for a run that was never launched."""
    from expctl import console
    from expctl.refresh import refresh_snapshot
    from expctl.runs import resolve_run_id

    ws = get_workspace()
    run = refresh_snapshot(ws, resolve_run_id(ws, run_id))
    git = run.info.git
    state = (f"git {git.sha[:10]}{' (dirty)' if git.dirty else ''}" if git.available and git.sha
             else f"no git ({git.reason})")
    console.success(f"run {run.id} now records {state}")
