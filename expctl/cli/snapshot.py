"""`expctl snapshot`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import run_argument

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl new 3scale_sizeaware_100k      # then fix a bug in the training code
  expctl snapshot 3scale_sizeaware_100k # the run now records the fixed code
"""


@app.command(epilog=EXAMPLES)
def snapshot(
    run_id: str | None = run_argument(),
) -> None:
    """Take the code snapshot of a run again, before its launch.

    For a run created but never launched: records the workspace's code as it is now (git
    SHA, git.patch, untracked.txt, the private working tree), so the run trains today's code.
    A launched run keeps what it ran."""
    from expctl import console
    from expctl.refresh import refresh_snapshot
    from expctl.runs import resolve_run_id

    ws = get_workspace()
    run = refresh_snapshot(ws, resolve_run_id(ws, run_id))
    git = run.info.git
    state = (f"git {git.sha[:10]}{' (dirty)' if git.dirty else ''}" if git.available and git.sha
             else f"no git ({git.reason})")
    console.success(f"run {run.id} now records {state}")
