"""The tensorboard command: TensorBoard over selected runs, named by run id. Keep expensive
imports out of this module's top level (tensorboard runs in its own process)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace

app = command_app()  # this module's command, built when it runs


@app.command()
def tensorboard(
    runs: list[str] | None = typer.Argument(None, help="Run ids (default: the leaderboard's "
                                            "runs)."),
    where: list[str] = typer.Option([], "--where", "-w", help="Only runs with KEY=VALUE "
                                    "(repeatable), as for `leaderboard`."),
) -> None:
    """Serve the runs' TensorBoard event files locally.

    Serve the runs' TensorBoard event files on a free local port until Ctrl-C."""
    import time

    from expctl import console
    from expctl.cli.shared import open_index
    from expctl.registry.queries import parse_where
    from expctl.visual.selection import select_runs
    from expctl.visual.tensorboard_view import serve
    from expctl.visual.tools import require

    require("tensorboard", "pip install 'expctl[tensorboard]'")
    wheres = [parse_where(w) for w in where]
    ws = get_workspace()
    with open_index(ws) as db:
        selection = select_runs(ws, db, runs or [], wheres=wheres)
    try:
        with serve(ws, selection.runs) as served:
            console.info(f"TensorBoard over {len(served.runs)} runs "
                         f"({', '.join(served.runs)}) linked in {served.logdir}; "
                         "Ctrl-C stops it")
            console.out(served.url)
            while served.process.poll() is None:
                time.sleep(0.5)
            console.warn(f"TensorBoard exited with code {served.process.returncode}")
    except KeyboardInterrupt:
        console.info("stopped TensorBoard")
