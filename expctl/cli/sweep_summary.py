"""`expctl sweep-summary`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from typing import Literal

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import complete_sweeps, format_option, run_option

app = command_app()  # this module's command, built when it runs

SummaryFormat = Literal["table", "json"]


EXAMPLES = """Examples:

\b
  expctl sweep 3scale_sizeaware_1k -s +train.lr=0.001,0.01 --id lr-sweep
  expctl sweep-summary lr-sweep
  expctl sweep-summary lr-sweep --metric small_map --format json
"""


@app.command("sweep-summary", epilog=EXAMPLES)
def sweep_summary(
    sweep_id: str = typer.Argument(..., metavar="SWEEP", help="The sweep's id (see `expctl ls "
                                   "--sweep`).", autocompletion=complete_sweeps),
    metric: str | None = typer.Option(None, "--metric", "-m", metavar="METRIC", help="Metric "
                                      "(default: the leaderboard's, else the runs' primary "
                                      "metric).", show_default=False),
    baseline: str | None = run_option(None, "--baseline", "-b", help="Run to compare the best "
                                      "against (default: baseline in expctl.yaml)."),
    fmt: SummaryFormat = format_option(SummaryFormat),
) -> None:
    """A sweep's metric per swept value, and its best run.

    For each swept key, every value with its number of runs, mean and best; then the sweep's
    best run with its change against the baseline."""
    from expctl import console
    from expctl.sweep_summary import summarize

    def number(value: float, scale: float, sign: str = "") -> str:
        return f"{value * scale:{sign}.4g}"

    s = summarize(get_workspace(), sweep_id, metric, baseline)
    for warning in s.warnings:
        console.warn(warning)
    if fmt == "json":
        console.print_json({
            "sweep": s.sweep_id, "metric": s.metric, "direction": s.direction,
            "runs": s.runs, "measured": s.measured,
            "by_key": {k: [vars(r) for r in rows] for k, rows in s.by_key.items()},
            "best": {"run": s.best_run, "value": s.best_value},
            "baseline": {"run": s.baseline, "value": s.baseline_value},
            "delta": s.delta, "delta_pct": s.delta_pct})
        return

    def shown(value):
        return "" if value is None else number(value, s.scale)

    for key, rows in s.by_key.items():
        console.out(f"{key} ({s.metric}, {s.direction} is better)")
        console.table([key, "runs", "measured", "mean", "best", "best run"],
                      [[r.value, r.runs, r.measured, shown(r.mean), shown(r.best),
                        r.best_run or ""] for r in rows], "table",
                      right_align=("runs", "measured", "mean", "best"))
        console.out()
    pairs = [("runs", f"{s.measured} of {s.runs} with {s.metric}"),
             ("best run", f"{s.best_run} ({shown(s.best_value)})" if s.best_run else "none yet")]
    if s.baseline:
        pairs.append(("baseline", f"{s.baseline} ({shown(s.baseline_value) or 'no value'})"))
    if s.delta is not None:
        pct = f" ({s.delta_pct:+.2f}%)" if s.delta_pct is not None else ""
        pairs.append(("best vs baseline", number(s.delta, s.scale, sign="+") + pct))
    console.key_values(pairs, title=f"sweep {s.sweep_id}")
