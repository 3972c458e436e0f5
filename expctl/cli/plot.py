"""The plot command: one series over runs as a figure (PNG/SVG/PDF) or its points as CSV.
Keep expensive imports out of this module's top level: matplotlib loads inside the command."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import Axis, format_option, run_argument, run_option

app = command_app()  # this module's command, built when it runs

PlotFormat = Literal["figure", "csv"]
EXAMPLES = """Examples:

\b
  expctl plot loss -o loss.pdf          # the leaderboard's runs
  expctl plot val/map 3scale_baseline 4scale_enhanced -o map.svg --x time
  expctl plot small_map --format csv > small_map.csv
"""


@app.command(epilog=EXAMPLES)
def plot(
    series: str = typer.Argument(..., metavar="SERIES", help="The series to draw: a "
                                 "metrics.jsonl field or a TensorBoard tag (see the report's "
                                 "chart titles)."),
    runs: list[str] | None = run_argument("Run ids (default: every run of the leaderboard that "
                                          "logged the series).", many=True),
    output: Path | None = typer.Option(None, "--output", "-o", metavar="FILE", help="The figure "
                                       "to write: .png, .svg or .pdf (for csv: a file instead "
                                       "of stdout).", show_default=False),
    fmt: PlotFormat = format_option(PlotFormat, "Output format: figure (by the file's suffix) "
                                    "or csv (run, x, value: the points exactly as logged).",
                                    default="figure"),
    baseline: str | None = run_option(None, "--baseline", "-b", help="Run drawn dashed "
                                      "(default: baseline in expctl.yaml)."),
    x: Axis = typer.Option("step", "--x", metavar="AXIS", help="x axis: step, epoch or time."),
    title: str | None = typer.Option(None, "--title", metavar="TITLE", help="Figure title "
                                     "(default: the series)."),
) -> None:
    """Plot one logged series of several runs.

    A figure for a paper or a slide: axis labels, a legend of run ids, the baseline dashed;
    SVG and PDF keep their text as text."""
    from expctl import console
    from expctl.cli.shared import open_index
    from expctl.errors import BadInputError, NotFoundError
    from expctl.visual.selection import select_runs
    from expctl.visual.series import load_run_series
    from expctl.visual.static_plot import check_figure_path, csv_rows, write_figure
    from expctl.visual.tools import require

    require("numpy")
    if fmt == "figure":
        require("matplotlib")
    if fmt == "figure":
        if output is None:
            raise BadInputError("No figure file given.", hint="pass -o FILE.png|svg|pdf, or "
                                "--format csv for the points")
        check_figure_path(output)
    ws = get_workspace()
    with open_index(ws) as db:
        selection = select_runs(ws, db, runs or [], baseline=baseline)
    found, known = [], set()
    for run in selection.runs:
        run_series = load_run_series(ws, run, x)
        known.update(run_series.series)
        if series in run_series.series:
            found.append(run_series.series[series])
    if not found:
        names = ", ".join(sorted(known)[:20])
        raise NotFoundError(f"No selected run logged a series `{series}`.",
                            hint=f"series logged: {names}" if names else "no run logged any")
    base_id = selection.baseline.id if selection.baseline else None
    if fmt == "csv":
        columns, rows = csv_rows(found)
        if output is None:
            console.table(columns, rows, "csv")
            return
        import csv
        import io

        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([columns, *rows])
        from expctl.files import write_text_atomic

        write_text_atomic(output, text.getvalue())
    else:
        write_figure(found, base_id, output, title)
    console.success(f"wrote {output}: {series} of {len(found)} runs")
