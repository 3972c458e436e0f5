"""The report command: one self-contained HTML page over runs. Keep expensive imports out of
this module's top level (see expctl.cli.app): plotly loads inside the command."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import Axis, run_argument, run_option, sweep_option

app = command_app()  # this module's command, built when it runs

EXAMPLES = """Examples:

\b
  expctl report                        # the leaderboard's runs: report.html
  expctl report --sweep lr-sweep -o lr_sweep.html
  expctl report 3scale_baseline 4scale_enhanced --x time
"""


@app.command(epilog=EXAMPLES)
def report(
    runs: list[str] | None = run_argument("Run ids (default: the leaderboard's runs); the "
                                          "baseline is always shown.", many=True),
    sweep: str | None = sweep_option("Only the runs of this sweep (`sweep:` in run.yaml), "
                                     "with the metric against each swept param."),
    where: list[str] = typer.Option([], "--where", "-w", metavar="FILTER", help="Only runs "
                                    "matching KEY<op>VALUE (repeatable), op one of = != < <= > "
                                    ">=, as for `leaderboard`."),
    metric: str | None = typer.Option(None, "--metric", "-m", metavar="METRIC", help="Metric to "
                                      "rank by (default: as for `leaderboard`).",
                                      show_default=False),
    baseline: str | None = run_option(None, "--baseline", "-b", help="Run to compare against "
                                      "(default: baseline in expctl.yaml)."),
    x: Axis = typer.Option("step", "--x", metavar="AXIS", help="x axis of the curves: step, "
                           "epoch or time (seconds since the first point)."),
    points: int = typer.Option(1000, "--points", metavar="N", help="Points drawn per run and "
                               "series at most; longer histories keep each bucket's min and "
                               "max.", min=10),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", metavar="FILE",
                                help="The HTML file to write."),
) -> None:
    """Write an HTML report of the runs.

    One self-contained file that opens offline: the leaderboard with the baseline pinned,
    one chart per logged series, confusion matrices and a section per run (state, git,
    hypothesis, config differences, results)."""
    from expctl import console
    from expctl.cli.shared import open_index
    from expctl.files import write_text_atomic
    from expctl.registry.index import refresh_statuses
    from expctl.registry.queries import parse_where
    from expctl.visual.html_report import build_report
    from expctl.visual.selection import select_runs

    wheres = [parse_where(w) for w in where]
    ws = get_workspace()
    with open_index(ws) as db:
        refresh_statuses(ws, db)
        selection = select_runs(ws, db, runs or [], sweep, wheres, metric, baseline)
    result = build_report(ws, selection, x, points)
    for warning in result.warnings:
        console.warn(warning)
    write_text_atomic(output, result.html)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(output, 0o666 & ~umask)  # a page to share: readable as any new file is
    size = output.stat().st_size
    console.success(f"wrote {output} ({size / 1e6:.1f} MB): {result.runs} runs, "
                    f"{result.charts} curve charts")
    console.out(str(output))
