"""Commands: sweep (many runs from value lists) and sweep-summary (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import app, check_format, get_workspace


@app.command()
def sweep(
    target: str = typer.Argument(..., help="Recipe, or a run id like recipe_100k (sets steps)."),
    sets: list[str] = typer.Option([], "--set", "-s", help="key=v1,v2,v3 or "
                                   "key=range(start, stop, step): one run per combination of "
                                   "all --set lists; each value type-checked like `new --set`."),
    name: str | None = typer.Option(None, "--name", help="Run id template, e.g. "
                                    "{recipe}_ls{lambda_sparse}_{steps}: {recipe}, {base}, "
                                    "{steps}, {sweep} and the swept keys (dotted or last part)."),
    sweep_id: str | None = typer.Option(None, "--id", help="The sweep's id (default: "
                                        "<target>-sweep-<date>-<time>)."),
    hypothesis: str | None = typer.Option(None, "--hypothesis", help="For every run."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the runs; create nothing."),
    queue: bool = typer.Option(False, "--queue", help="Queue every run in the workspace queue."),
    slurm: bool = typer.Option(False, "--slurm", help="Submit every run as one Slurm job array."),
    screen: bool = typer.Option(False, "--screen", help="With --queue: run in screen sessions."),
    tmux: bool = typer.Option(False, "--tmux", help="With --queue: run in tmux sessions."),
    local: bool = typer.Option(False, "--local", help="With --queue: run as background "
                               "processes."),
    priority: int = typer.Option(0, "--priority", help="With --queue: higher starts first."),
    after: str | None = typer.Option(None, "--after", help="Start only once this run has "
                                     "finished successfully (--queue), or as a Slurm "
                                     "dependency afterok (--slurm)."),
) -> None:
    """Make one run per combination of the --set value lists, all tagged with one sweep id;
    with --queue or --slurm, launch them too. Nothing is created unless every run checks."""
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
    after_job = _after_job(ws, after) if slurm and after else None
    if queue:  # refused before any run is made, as `launch --queue` would refuse them
        from expctl.queue.operations import check_queueable
        from expctl.queue.slots import run_need

        for r in plan.runs:
            chosen = launchers[0] if launchers else \
                (r.config.get("launch") or {}).get("launcher") or ws.settings.launcher
            check_queueable(ws, r.run_id, chosen, run_need(r.config))
    runs = _make_runs(ws, plan, hypothesis)
    from expctl.cli.jobs import _reindex

    ids = [r.id for r in runs]
    _reindex(ws, *ids)
    console.table(["id", *keys], rows, "table")
    console.success(f"made sweep {plan.sweep_id}: {len(ids)} runs")
    if queue:
        from expctl.cli.jobs import _queue

        _queue(ws, ids, launchers[0] if launchers else None, priority,
               [after] if after else [], False, False)
    elif slurm:
        _submit_array(ws, plan.sweep_id, ids, after_job)
    else:
        more = " ..." if len(ids) > 2 else ""
        console.info(f"launch them: expctl launch {' '.join(ids[:2])}{more} --queue  |  "
                     f"list them: expctl ls --sweep {plan.sweep_id}")


def _make_runs(ws, plan, hypothesis: str | None) -> list:
    """Every run of the plan (the `new` phase, tagged with the sweep), then the sweep's files;
    a run that cannot be made (an id taken meanwhile) undoes the ones made here."""
    from expctl.phases.new import create_run
    from expctl.sweep import discard, write_sweep_files

    made = []
    try:
        for planned in plan.runs:
            made.append(create_run(ws, planned.run_id, plan.recipe, planned.overrides,
                                   hypothesis, sweep=plan.sweep_id))
        write_sweep_files(ws, plan, [r.path for r in made])
    except BaseException:
        discard(ws, plan, [r.path for r in made])
        raise
    return made


def _after_job(ws, after: str) -> str:
    """The Slurm job id of the run a job array waits for."""
    from expctl.errors import BadInputError
    from expctl.launchers.slurm import is_job_id
    from expctl.runs import load_run

    run = load_run(ws, after)
    if run.info.launcher != "slurm" or not is_job_id(str(run.info.session or "")):
        raise BadInputError(f"--after {after}: that run is not a Slurm job.",
                            hint="with --slurm, --after names a run launched with --slurm")
    return str(run.info.session)


def _submit_array(ws, sweep_id: str, ids: list[str], after_job: str | None) -> None:
    from expctl import console
    from expctl.cli.jobs import _reindex
    from expctl.phases.launch import plan_launch, start_array
    from expctl.sweep import tasks_file

    plans = [plan_launch(ws, run_id, "slurm") for run_id in ids]
    tasks = tasks_file(ws, sweep_id)
    job_id, launched = start_array(ws, plans, sweep_id, tasks, tasks.parent, after_job)
    console.success(f"submitted sweep {sweep_id} as Slurm job array {job_id} "
                    f"(tasks {job_id}_0 to {job_id}_{len(launched) - 1})")
    console.info(f"follow it: expctl ls --sweep {sweep_id}")
    _reindex(ws, *ids)


@app.command("sweep-summary")
def sweep_summary(
    sweep_id: str = typer.Argument(..., help="The sweep's id (see `expctl ls --sweep`)."),
    metric: str | None = typer.Option(None, "--metric", "-m", help="Metric (default: the "
                                      "leaderboard's, else the runs' primary metric)."),
    baseline: str | None = typer.Option(None, "--baseline", "-b", help="Run to compare the "
                                        "best against (default: baseline in expctl.yaml)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Per swept key, the metric per value (runs, mean, best), and the best run against the
    baseline."""
    from expctl import console
    from expctl.sweep_summary import summarize

    def number(value: float, scale: float, sign: str = "") -> str:
        return f"{value * scale:{sign}.4g}"

    check_format(fmt, ("table", "json"))
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
