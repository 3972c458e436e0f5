"""`expctl cycle`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import complete_recipes_and_runs, recipe_option, set_option
from expctl.cli.shared import launcher_flag, show_recorded, show_results

app = command_app()  # this module's command, built when it runs


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


EXAMPLES = """Examples:

\b
  expctl cycle 3scale_sizeaware_100k --tmux --commit --findings "small +2 pp"
  expctl cycle 4scale_enhanced_100k --slurm --detach   # log out; it goes on
  expctl cycle 3scale_sizeaware_100k         # again: goes on where it stopped
"""


@app.command("cycle", epilog=EXAMPLES)
def cycle_cmd(
    run_id: str = typer.Argument(..., metavar="RUN", help="Run id (created if it does not "
                                 "exist).", autocompletion=complete_recipes_and_runs),
    screen: bool = typer.Option(False, "--screen", help="Train (or, with --detach, cycle) in "
                                "a screen session."),
    tmux: bool = typer.Option(False, "--tmux", help="Train (or cycle) in a tmux session."),
    local: bool = typer.Option(False, "--local", help="Train (or cycle) as a background "
                               "process."),
    slurm: bool = typer.Option(False, "--slurm", help="Train (or cycle) as a Slurm batch job."),
    commit: bool = typer.Option(False, "--commit", help="Commit the run's files at the end."),
    findings: str | None = typer.Option(None, "--findings", metavar="FINDINGS", help="Key "
                                        "findings for the commit message."),
    detach: bool = typer.Option(False, "--detach", help="Run the whole cycle in a session, so "
                                "you can log out."),
    recipe: str | None = recipe_option("Recipe for a new run."),
    sets: list[str] = set_option("Override a param of a new run (repeatable)."),
    hypothesis: str | None = typer.Option(None, "--hypothesis", metavar="HYPOTHESIS",
                                          help="What the run tests."),
) -> None:
    """new, launch, wait, gather, validate, record [, commit].

    The whole experiment cycle of one run, unattended, with the progress of each phase.
    Run it again after a failure or interruption: it continues with the first unfinished
    phase."""
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
