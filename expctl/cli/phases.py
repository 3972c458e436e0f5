"""Commands for the phases after training: gather, validate, cycle.

Import rules: see expctl.cli.app (implementation modules are imported inside the bodies)."""

from __future__ import annotations

import typer

from expctl.cli.app import app, check_format, get_workspace

RUN_HELP = "Run id (default: the current run)."


def launcher_flag(screen: bool, tmux: bool, local: bool, slurm: bool = False) -> str | None:
    """The one launcher chosen by --screen/--tmux/--local/--slurm, or None."""
    from expctl.errors import BadInputError

    flags = (("screen", screen), ("tmux", tmux), ("local", local), ("slurm", slurm))
    chosen = [name for name, on in flags if on]
    if len(chosen) > 1:
        raise BadInputError(
            f"Choose one of --screen, --tmux, --local, --slurm (got {', '.join(chosen)})."
        )
    return chosen[0] if chosen else None


def show_gathered(result, fmt: str = "table") -> None:
    """The table of what was gathered from where, and warnings for optional misses."""
    from expctl import console

    rows = [[g.artifact, g.action, g.source, g.dest] for g in result.gathered]
    if rows or fmt != "table":
        console.table(["artifact", "action", "from", "to"], rows, fmt,
                      title=f"gathered ({result.phase} phase)")
    for refused in result.refused:
        console.warn(f"artifact `{refused.artifact}`: `{refused.link}` is a link out of the "
                     f"folder its glob gathers from (to `{refused.target}`): not gathered")
    for item in result.ambiguous:
        if item.artifact != "checkpoint":  # check() refuses an ambiguous checkpoint
            console.warn(item.describe(result.run_id))
    for miss in result.missing:
        if not miss.required:
            console.warn(f"artifact `{miss.artifact}` matched nothing from this run's "
                         f"{result.phase} phase (tried {', '.join(miss.patterns)})")
    if not rows and not result.missing:
        console.info(f"no artifacts declared for the {result.phase} phase")


def show_recorded(ws, result) -> None:
    """A record's metrics with their change against the baseline, and its criteria."""
    from expctl import console

    for warning in result.warnings:
        console.warn(warning)
    deltas = {name: d.as_dict() for name, d in result.deltas.items()}
    show_results(ws, result.metrics, deltas, result.baseline)
    for verdict in result.verdicts:
        colour = {True: "green", False: "red", None: "yellow"}[verdict.passed]
        console.message(f"criterion {verdict.criterion.metric} {verdict.criterion.text}: "
                        f"{verdict.word}", colour)


def show_results(ws, metrics: dict, deltas: dict, baseline: str | None) -> None:
    """The record table: metric (label), value and change against the baseline, each in the
    metric's number format, coloured by its direction. `deltas` as experiment_results.json
    holds them ({name: {baseline, delta, delta_pct}})."""
    from expctl import console
    from expctl.console import Cell
    from expctl.metrics.specs import metric_format

    rows = []
    for name, value in metrics.items():
        fmt = metric_format(ws, name)
        delta = deltas.get(name)
        change = Cell("")
        if delta is not None and delta.get("delta") is not None:
            colour = {True: "green", False: "red", None: ""}[fmt.better(delta["delta"])]
            change = Cell(fmt.change(delta["delta"], delta.get("delta_pct")), colour)
        rows.append([fmt.title, fmt.value(value), change])
    if not deltas:  # no baseline (or this is it): nothing to compare with
        console.table(["metric", "value"], [r[:2] for r in rows], right_align=("value",))
        return
    title = f"vs baseline {baseline}"
    console.table(["metric", "value", title], rows, right_align=("value", title))


@app.command("gather")
def gather_cmd(
    run_id: str | None = typer.Argument(None, help=RUN_HELP),
    move: bool = typer.Option(False, "--move", help="Move files instead of linking/copying."),
    phase: str = typer.Option("train", "--phase", help="Whose artifacts: train or validate."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
) -> None:
    """Bring the artifacts the recipe declares (checkpoint, confusion matrices, logs) into the
    run folder: only files written during this run's phase; the checkpoint becomes
    checkpoints/final_model.ckpt."""
    from expctl import console
    from expctl.phases.gather import gather
    from expctl.runs import load_run, resolve_run_id

    check_format(fmt, console.TABLE_FORMATS)
    ws = get_workspace()
    run = load_run(ws, resolve_run_id(ws, run_id))
    result = gather(ws, run, phase, move=move)
    show_gathered(result, fmt)
    result.check()


@app.command("validate")
def validate_cmd(
    run_id: str | None = typer.Argument(None, help=RUN_HELP),
    screen: bool = typer.Option(False, "--screen", help="Run it detached in a screen session."),
    tmux: bool = typer.Option(False, "--tmux", help="Run it detached in a tmux session."),
    local: bool = typer.Option(False, "--local", help="Run it as a background process."),
    slurm: bool = typer.Option(False, "--slurm", help="Run it as a Slurm batch job."),
    while_training: bool = typer.Option(False, "--while-training", help="Go ahead although "
                                        "the run is still training (results not final)."),
) -> None:
    """Run the recipe's validation command on the gathered checkpoint (in the foreground unless
    a launcher is given), log its output and exit code, then gather and record."""
    from expctl import console
    from expctl.runs import load_run, resolve_run_id

    ws = get_workspace()
    run = load_run(ws, resolve_run_id(ws, run_id))
    chosen = launcher_flag(screen, tmux, local, slurm)
    if chosen:
        from expctl.phases.validate import start_detached
        from expctl.rundir import VALIDATION_LOG

        session = start_detached(ws, run, chosen, while_training)
        from expctl.launchers import get_launcher

        handle = get_launcher(chosen).handle
        where = f"in {chosen} {handle} {session}" if session else "as a background process"
        console.success(f"validating {run.id} {where}; output in {run.path / VALIDATION_LOG}")
        return
    from expctl.cycle import validate_and_record

    done = validate_and_record(ws, run, echo=console.passthrough,
                               while_training=while_training)
    console.success(f"validation finished; output in {done.outcome.log}")
    show_gathered(done.gathered)
    show_recorded(ws, done.recorded)
    done.recorded.check_packages()


def _cycle_interrupted(ws, run_id: str) -> None:
    """Ctrl-C in `cycle`: a running training goes on (say how to stop it); a validation in
    the foreground has been stopped. Either way `cycle` again continues."""
    from expctl import console
    from expctl.cli.watching import job_goes_on
    from expctl.errors import ExpctlError
    from expctl.launchers.status import derive_status
    from expctl.runs import load_run

    try:
        running = derive_status(load_run(ws, run_id), tail_bytes=0).state == "running"
    except ExpctlError:
        running = False
    if running:
        job_goes_on(run_id)
        console.info(f"continue the cycle with `expctl cycle {run_id}`")
    else:
        console.error("interrupted", hint=f"continue the cycle with `expctl cycle {run_id}`")


@app.command("cycle")
def cycle_cmd(
    run_id: str = typer.Argument(..., help="Run id (created if it does not exist)."),
    screen: bool = typer.Option(False, "--screen", help="Train (or, with --detach, cycle) in "
                                "a screen session."),
    tmux: bool = typer.Option(False, "--tmux", help="Train (or cycle) in a tmux session."),
    local: bool = typer.Option(False, "--local", help="Train (or cycle) as a background "
                               "process."),
    slurm: bool = typer.Option(False, "--slurm", help="Train (or cycle) as a Slurm batch job."),
    commit: bool = typer.Option(False, "--commit", help="Commit the run's files at the end."),
    findings: str | None = typer.Option(None, "--findings", help="Key findings for the "
                                           "commit message."),
    detach: bool = typer.Option(False, "--detach", help="Run the whole cycle in a session, so "
                                "you can log out."),
    recipe: str | None = typer.Option(None, "--recipe", "-r", help="Recipe for a new run."),
    sets: list[str] = typer.Option([], "--set", "-s", help="Override key.path=value for a new "
                                   "run (repeatable)."),
    hypothesis: str | None = typer.Option(None, "--hypothesis", help="What the run tests."),
) -> None:
    """new -> launch -> wait -> gather -> validate -> record [-> commit], unattended. Run it
    again after a failure or interruption: it continues with the first unfinished phase."""
    from expctl import console
    from expctl.cycle import CycleOptions, run_cycle, start_detached

    ws = get_workspace()
    chosen = launcher_flag(screen, tmux, local, slurm)
    options = CycleOptions(chosen, commit, findings, recipe, list(sets), hypothesis)

    def report(event) -> None:
        style = {"done": "green", "failed": "bold red", "skipped": "dim"}.get(event.state, "")
        console.message(event.text(), style)

    if detach:
        where = chosen or ws.settings.launcher
        run, session = start_detached(ws, run_id, options, where, report)
        from expctl.launchers import get_launcher

        launcher = get_launcher(where)
        if session and launcher.attachable:
            console.info(f"attach with: {' '.join(launcher.attach_argv(session))}")
        elif session:
            console.info(f"{where} {launcher.handle} {session}; follow it with "
                         f"`expctl status {run.id}`")
        console.info(f"progress: {run.path / 'training_logs' / 'cycle.log'}")
        return
    from expctl.cli.watching import watch_job
    from expctl.errors import ExitCode

    try:
        result = run_cycle(ws, run_id, options, report, echo=console.passthrough,
                           watch=lambda run: watch_job(ws, run)[0])
    except KeyboardInterrupt:
        _cycle_interrupted(ws, run_id)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    record = result.outcomes.get("record")
    for warning in result.warnings:  # gather's (record's own are shown with its table)
        if record is None or warning not in record.warnings:
            console.warn(warning)
    if record is not None:
        show_recorded(ws, record)
    elif result.metrics:  # recorded before: the same table, from experiment_results.json
        from expctl.runs import load_run

        saved = load_run(ws, result.run_id).results()
        extra = saved.model_dump() if saved is not None else {}
        show_results(ws, result.metrics, extra.get("deltas") or {}, extra.get("baseline"))
    if result.commit_sha:
        console.success(f"committed {result.commit_sha[:10]}")
    console.success(f"cycle of {result.run_id} complete")
    if record is not None:
        record.check_packages()
