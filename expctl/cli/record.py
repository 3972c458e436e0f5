"""`expctl record`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import complete_runs
from expctl.cli.shared import parse_metric_args, shown

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl record 3scale_sizeaware_100k      # reads the recipe's metric sources
  expctl record 3scale_sizeaware_100k map=0.4037 small_map=0.2139
  expctl record 3scale_sizeaware_100k --refresh-sources
"""


@app.command(epilog=EXAMPLES)
def record(
    args: list[str] | None = typer.Argument(None, metavar="[RUN] [NAME=VALUE]...",
                                            help="Final metrics (RUN defaults to the current "
                                            "run). With no NAME=VALUE, read the recipe's "
                                            "metric sources.", show_default=False,
                                            autocompletion=complete_runs),
    while_training: bool = typer.Option(False, "--while-training", help="Go ahead although "
                                        "the run is still training (results not final)."),
    refresh_sources: bool = typer.Option(False, "--refresh-sources", help="Read the metric "
                                         "sources of the recipe as it is now in recipes/ "
                                         "(not the run's config.yaml); the previous "
                                         "experiment_results.json is kept in "
                                         "results_history/."),
) -> None:
    """Store a run's final metrics in its folder and the registry.

    Writes experiment_results.json (metrics, changes against the baseline, criteria verdicts),
    validation_results/metrics_summary.txt and evaluation_info.txt, then updates the
    registry."""
    from expctl import console
    from expctl.errors import BadInputError
    from expctl.registry import index_runs, open_registry
    from expctl.runs import load_run, resolve_run_id, write_results

    args = list(args or [])
    run_arg = args.pop(0) if args and "=" not in args[0] else None
    metrics = parse_metric_args(args)  # every value checked before anything is written
    if metrics and refresh_sources:
        raise BadInputError("--refresh-sources reads the metric sources; give no name=value.")
    ws = get_workspace()
    run = load_run(ws, resolve_run_id(ws, run_arg))
    if not while_training:
        from expctl.state import refuse_while_training

        refuse_while_training(run, "record")
    with open_registry(ws) as db:  # a broken registry is refused before the run is touched
        if metrics:
            write_results(run, metrics)
            index_runs(ws, [run.id], db)
            console.success(f"recorded {run.id}: {shown(ws, metrics)}")
            return
        from expctl.phases.record import record_run

        result = record_run(ws, run, refresh_sources=refresh_sources)
        index_runs(ws, [run.id], db)
    for warning in result.warnings:  # a source that failed, a group left unmeasured
        console.warn(warning)
    if result.kept is not None:
        console.info(f"previous results kept in {result.kept.relative_to(run.path)}")
    console.success(f"recorded {run.id}: {shown(ws, result.metrics) or 'no metrics found'}")
    result.check_packages()
