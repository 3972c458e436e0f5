"""`expctl reindex`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from expctl.cli.app import command_app, get_workspace

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl reindex          # after copying or pulling run folders in by hand
"""


@app.command("reindex", epilog=EXAMPLES)
def reindex_cmd() -> None:
    """Rebuild the registry from the run folders.

    This workspace's rows are rebuilt from runs/ alone (safe while other commands run);
    other workspaces' rows of a shared registry stay, and nothing expctl did not create is
    deleted."""
    from expctl import console
    from expctl.registry import reindex

    ws = get_workspace()
    result = reindex(ws)
    for note in result.notes:
        console.warn(note)
    for problem in result.skipped:
        console.warn(f"skipped {problem}")
    console.success(f"indexed {result.runs} runs ({result.params} params, "
                    f"{result.metrics} metrics)" + (f"; skipped {len(result.skipped)}"
                                                    if result.skipped else ""))
