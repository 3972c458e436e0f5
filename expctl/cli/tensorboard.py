"""The tensorboard command: TensorBoard over selected runs, named by run id. Keep expensive
imports out of this module's top level (tensorboard runs in its own process)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import run_argument

app = command_app()  # this module's command, built when it runs

EXAMPLES = """Examples:

\b
  expctl tensorboard                    # the leaderboard's runs; Ctrl-C stops
  expctl tensorboard 3scale_baseline 3scale_sizeaware
  expctl tensorboard -w recipe=4scale_enhanced
"""


@app.command(epilog=EXAMPLES)
def tensorboard(
    runs: list[str] | None = run_argument("Run ids (default: the leaderboard's runs).",
                                          many=True),
    where: list[str] = typer.Option([], "--where", "-w", metavar="FILTER", help="Only runs "
                                    "matching KEY<op>VALUE (repeatable), op one of = != < <= > "
                                    ">=, as for `leaderboard`."),
) -> None:
    """Serve the runs' TensorBoard event files locally.

    Each run appears under its run id, on a free port of 127.0.0.1, until Ctrl-C (which
    removes the temporary folder of links it serves)."""
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
