"""`expctl sweep`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import complete_recipes_and_runs, run_option
from expctl.cli.shared import after_job_of, make_sweep_runs, submit_array

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl sweep 3scale_sizeaware_1k --set +train.lr=0.001,0.003 --dry-run
  expctl sweep 3scale_baseline -s "train.max_steps=range(200, 401, 100)"
  expctl sweep 4scale_enhanced_1k -s loss.size_aware=true,false --slurm
"""


@app.command(epilog=EXAMPLES)
def sweep(
    target: str = typer.Argument(..., metavar="RECIPE_OR_ID", help="Recipe, or a run id like "
                                 "recipe_100k (sets steps).",
                                 autocompletion=complete_recipes_and_runs),
    sets: list[str] = typer.Option([], "--set", "-s", metavar="KEY=VALUES", help="key=v1,v2,v3 "
                                   "or key=range(start, stop, step): one run per combination of "
                                   "all --set lists; each value type-checked like `new --set`."),
    name: str | None = typer.Option(None, "--name", metavar="TEMPLATE", help="Run id template, "
                                    "e.g. {recipe}_ls{lambda_sparse}_{steps}: {recipe}, {base}, "
                                    "{steps}, {sweep} and the swept keys (dotted or last part)."),
    sweep_id: str | None = typer.Option(None, "--id", metavar="SWEEP", help="The sweep's id "
                                        "(default: <target>-sweep-<date>-<time>)."),
    hypothesis: str | None = typer.Option(None, "--hypothesis", metavar="HYPOTHESIS",
                                          help="What every run tests."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the runs; create nothing."),
    queue: bool = typer.Option(False, "--queue", help="Queue every run in the workspace queue."),
    slurm: bool = typer.Option(False, "--slurm", help="Submit every run as one Slurm job array."),
    screen: bool = typer.Option(False, "--screen", help="With --queue: run in screen sessions."),
    tmux: bool = typer.Option(False, "--tmux", help="With --queue: run in tmux sessions."),
    local: bool = typer.Option(False, "--local", help="With --queue: run as background "
                               "processes."),
    priority: int = typer.Option(0, "--priority", metavar="N", help="With --queue: higher "
                                 "starts first."),
    after: str | None = run_option(None, "--after", help="Start only once this run has "
                                   "finished successfully (--queue), or as a Slurm dependency "
                                   "afterok (--slurm)."),
) -> None:
    """Make one run per combination of --set values.

    The runs share one sweep id (see `ls --sweep`, `sweep-summary`) and are checked all
    before any is created; with --queue or --slurm they are launched too."""
    from expctl import console
    from expctl.errors import BadInputError
    from expctl.sweep import id_text, plan_sweep

    launchers = [n for n, f in (("screen", screen), ("tmux", tmux), ("local", local)) if f]
    if queue and slurm:
        raise BadInputError("Give --queue or --slurm, not both: with Slurm the queue is Slurm's.")
    if len(launchers) > 1 or (launchers and not queue):
        raise BadInputError("--screen, --tmux and --local go with --queue, one of them.")
    if (after or priority) and not (queue or slurm):
        raise BadInputError("--after and --priority go with --queue (--after also with --slurm).")
    if priority and slurm:
        raise BadInputError("--priority goes with --queue; Slurm orders its own queue.")
    ws = get_workspace()
    plan = plan_sweep(ws, target, sets, name, sweep_id)
    keys = [a.key.lstrip("+") for a in plan.axes]
    rows = [[r.run_id, *(id_text(r.values[k]) for k in keys)] for r in plan.runs]
    if dry_run:
        console.table(["id", *keys], rows, "table")
        console.info(f"dry run: sweep {plan.sweep_id} would make {len(rows)} runs; "
                     "nothing created")
        return
    after_job = after_job_of(ws, after) if slurm and after else None
    if queue:  # refused before any run is made, as `launch --queue` would refuse them
        from expctl.queue.operations import check_queueable
        from expctl.queue.slots import run_need

        for r in plan.runs:
            chosen = launchers[0] if launchers else \
                (r.config.get("launch") or {}).get("launcher") or ws.settings.launcher
            check_queueable(ws, r.run_id, chosen, run_need(r.config))
    runs = make_sweep_runs(ws, plan, hypothesis)
    from expctl.cli.shared import update_index

    ids = [r.id for r in runs]
    update_index(ws, *ids)
    console.table(["id", *keys], rows, "table")
    console.success(f"made sweep {plan.sweep_id}: {len(ids)} runs")
    if queue:
        from expctl.cli.shared import queue_runs

        queue_runs(ws, ids, launchers[0] if launchers else None, priority,
               [after] if after else [], False, False)
    elif slurm:
        submit_array(ws, plan.sweep_id, ids, after_job)
    else:
        more = " ..." if len(ids) > 2 else ""
        console.info(f"launch them: expctl launch {' '.join(ids[:2])}{more} --queue  |  "
                     f"list them: expctl ls --sweep {plan.sweep_id}")
