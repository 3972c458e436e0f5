"""Commands: launch, status, logs, attach, stop, wait (see expctl.cli.app for import rules)."""

from __future__ import annotations

import typer

from expctl.cli.app import app, get_workspace


@app.command()
def launch(
    run_ids: list[str] | None = typer.Argument(None, help="Run ids (default: the current run).",
                                               show_default=False),
    screen: bool = typer.Option(False, "--screen", help="Run in a detached screen session."),
    tmux: bool = typer.Option(False, "--tmux", help="Run in a detached tmux session."),
    local: bool = typer.Option(False, "--local", help="Run as a detached background process."),
    slurm: bool = typer.Option(False, "--slurm", help="Submit as a Slurm batch job (sbatch), "
                               "with the recipe's and expctl.yaml's `slurm:` settings."),
    gpus: str | None = typer.Option(None, "--gpus", help="GPU ids, e.g. 0,1: sets "
                                       "CUDA_VISIBLE_DEVICES, or accelerate's --gpu_ids and "
                                       "number of processes."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show argv, cwd and env; start nothing."),
    resume: bool = typer.Option(False, "--resume", help="Relaunch a failed, killed or lost run "
                                "with the recipe's resume_args appended."),
    sets: list[str] = typer.Option([], "--set", "-s", help="With --resume: change key.path="
                                   "value for the new attempt, checked like `new --set` "
                                   "(config.yaml becomes the new attempt's; earlier ones stay "
                                   "in attempts/<n>/config.yaml). Repeatable."),
    queue: bool = typer.Option(False, "--queue", help="Put the runs in the workspace queue: "
                               "its scheduler starts each when its GPUs (or slots) are free."),
    priority: int = typer.Option(0, "--priority", help="With --queue: higher starts first."),
    after: list[str] = typer.Option([], "--after", help="With --queue: start only once this "
                                    "run has finished successfully (repeatable)."),
) -> None:
    """Start the run's training command detached, under expctl's supervisor, which logs all
    output to training_logs/stdout.log and records the exit code.

    Launcher: --screen/--tmux/--local/--slurm, else the recipe's launch.launcher, else
    expctl.yaml's.
    A finished run is never relaunched: train again in a new run id."""
    import json
    import shlex

    from expctl import console
    from expctl.errors import BadInputError
    from expctl.launchers import get_launcher
    from expctl.launchers.command import parse_gpus
    from expctl.phases.launch import describe, plan_launch, start
    from expctl.runs import resolve_run_id

    flags = (("screen", screen), ("tmux", tmux), ("local", local), ("slurm", slurm))
    chosen = [name for name, flag in flags if flag]
    if len(chosen) > 1:
        raise BadInputError("Give at most one of --screen, --tmux, --local and --slurm.")
    if not queue and (after or priority):
        raise BadInputError("--after and --priority go with --queue.")
    if queue and gpus is not None:
        raise BadInputError("--gpus does not go with --queue: the queue assigns the GPUs.",
                            hint="list them in expctl.yaml: `queue: {gpus: [0, 1]}`")
    ws = get_workspace()
    ids = [resolve_run_id(ws, r) for r in run_ids] if run_ids else [resolve_run_id(ws, None)]
    if queue:
        _queue(ws, ids, chosen[0] if chosen else None, priority, after, resume, dry_run)
        return
    plans = [plan_launch(ws, run_id, chosen[0] if chosen else None,
                         parse_gpus(gpus) if gpus is not None else None, resume,
                         list(sets))
             for run_id in ids]  # every run checked before any starts
    if dry_run:
        for plan in plans:
            info = describe(plan)
            pairs = [("run", info["run"]), ("launcher", info["launcher"]), ("cwd", info["cwd"]),
                     ("command", info["command"]), ("argv", json.dumps(info["argv"]))]
            pairs += [("env", f"{k}={shlex.quote(v)}") for k, v in info["env"].items()]
            console.key_values(pairs)
        console.info("dry run: nothing started (the job also gets this shell's environment)")
        return
    for plan in plans:
        run_id = plan.run.id
        for note in plan.notes:
            console.warn(note)
        launched = start(ws, plan)
        launcher = get_launcher(launched.launcher)
        where = (f"{launched.launcher} {launcher.handle} {launched.session}" if launched.session
                 else "a background process")
        console.success(f"launched run {run_id} in {where} (attempt {launched.attempt})")
        hints = f"follow it: expctl logs -f {run_id}  |  expctl status {run_id}"
        attachable = launched.session and launcher.attachable
        console.info(hints + (f"  |  expctl attach {run_id}" if attachable else ""))
        for warning in launched.warnings:
            console.warn(warning)


def _queue(ws, ids: list[str], launcher: str | None, priority: int, after: list[str],
           resume: bool, dry_run: bool) -> None:
    """`launch --queue`: the runs into the workspace queue, and its scheduler woken."""
    from expctl import console
    from expctl.queue.operations import enqueue
    from expctl.queue.service import wake
    from expctl.runs import resolve_run_id

    after = [resolve_run_id(ws, a) for a in after]
    if dry_run:
        from expctl.phases.launch import plan_launch

        for run_id in ids:
            plan_launch(ws, run_id, launcher, None, resume)
            console.out(f"would queue {run_id}")
        console.info("dry run: nothing queued")
        return
    from expctl.phases.launch import plan_launch
    from expctl.queue.slots import run_need

    plans = [plan_launch(ws, run_id, launcher, None, resume) for run_id in ids]
    planned = [(p.run.id, p.launcher, run_need(p.run.config())) for p in plans]
    positions = enqueue(ws, planned, launcher, priority, after, resume)
    for run_id, position in zip(ids, positions, strict=True):
        console.success(f"queued run {run_id} (position {position})")
    _reindex(ws, *ids)
    wake(ws.root)
    console.info("see the queue: expctl queue  |  expctl status RUN")


def _reindex(ws, *run_ids: str) -> None:
    """Update the registry's rows; the job's state is already decided, so a failure here is
    only a warning."""
    from expctl import console

    try:
        from expctl.registry import index_runs

        index_runs(ws, list(run_ids))
    except Exception as exc:  # noqa: BLE001 - the index can always be rebuilt from the folders
        reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        console.warn(f"the registry was not updated ({reason}); run `expctl reindex`")


def _load(run_id: str | None):
    from expctl.runs import load_run, resolve_run_id

    ws = get_workspace()
    return load_run(ws, resolve_run_id(ws, run_id))


@app.command()
def status(
    run_id: str | None = typer.Argument(None, help="Run id (default: the current run)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """A run's job: state, elapsed time, step against planned steps, ETA, latest metrics."""
    from dataclasses import asdict

    from expctl import console
    from expctl.cli.app import check_format
    from expctl.launchers.status import duration, status_text
    from expctl.state import run_status

    check_format(fmt, ("table", "json"))
    run = _load(run_id)
    if run.info.imported:
        console.key_values([("run", run.id), ("state", "imported")])
        return
    st = run_status(run, tail_bytes=65536)
    from expctl.registry.settings import read_settings

    formats = {name: read_settings(get_workspace()).format(name) for name in st.metrics}
    if fmt == "json":
        console.print_json({"run": run.id, **asdict(st),
                            "formats": {k: f.as_dict() for k, f in formats.items()}})
        return
    pairs: list[tuple[str, object]] = [("run", run.id), ("state", status_text(st))]
    if st.launcher:
        from expctl.launchers import get_launcher

        handle = get_launcher(st.launcher).handle
        where = st.launcher + (f" {handle} {st.session}" if st.session else "")
        pairs.append(("launcher", where + (f", attempt {st.attempt}" if st.attempt else "")))
    if st.node:
        pairs.append(("node", st.node))
    if st.pid:
        pairs.append(("pid", st.pid))
    for key, value in (("started", st.started), ("ended", st.ended),
                       ("elapsed", duration(st.elapsed_s))):
        if value:
            pairs.append((key, value))
    if st.exit_code is not None:
        pairs.append(("exit code", st.exit_code))
    if st.signal:
        pairs.append(("signal", st.signal))
    if st.error:
        pairs.append(("error", st.error))
    if st.note:
        pairs.append(("note", st.note))
    if st.last_step is not None or st.planned_steps:
        pairs.append(("step", _progress_text(st.last_step, st.planned_steps)))
    if st.eta_s is not None:
        pairs.append(("eta", duration(st.eta_s)))
    pairs += [(formats[name].title, formats[name].value(value) if _is_number(value) else value)
              for name, value in st.metrics.items()]
    console.key_values(pairs)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _progress_text(step: int | None, planned: int | None) -> str:
    done = "?" if step is None else str(step)
    if not planned:
        return done
    share = f" ({100 * step / planned:.1f}%)" if step is not None else ""
    return f"{done} / {planned}{share}"


@app.command()
def logs(
    run_id: str | None = typer.Argument(None, help="Run id (default: the current run)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the run ends."),
    lines: int = typer.Option(20, "--lines", "-n", help="How many last lines to show first."),
) -> None:
    """Print the end of the run's training_logs/stdout.log (all the job printed).

    A carriage return counts as a line break, so -n shows the last states of a progress bar."""
    from expctl import console
    from expctl.errors import ConflictError
    from expctl.launchers.control import follow as follow_file
    from expctl.launchers.control import log_path, tail
    from expctl.state import run_status

    run = _load(run_id)
    path = log_path(run)
    if not path.exists() and run_status(run).state in ("created", "queued", "blocked"):
        # An error like `wait` and `stop`: a script must not mistake "no log" for "empty log".
        raise ConflictError(f"Run `{run.id}` has not been launched: no log yet.",
                            hint=f"launch it with `expctl launch {run.id}`")
    def running() -> bool:
        return run_status(run).state == "running"

    try:  # Ctrl-C at any moment, not only while following, says that the job goes on
        text, offset = tail(path, lines)
        console.passthrough(text)  # byte for byte: carriage returns of progress bars included
        if follow:
            for chunk in follow_file(path, offset, running):
                console.passthrough(chunk)
            console.info(f"run {run.id}: {_final_text(run)}")
    except KeyboardInterrupt:
        from expctl.cli.watching import interrupted

        raise typer.Exit(interrupted(run)) from None


def _final_text(run) -> str:
    from expctl.launchers.status import status_text
    from expctl.state import run_status

    return status_text(run_status(run))


@app.command()
def attach(
    run_id: str | None = typer.Argument(None, help="Run id (default: the current run)."),
) -> None:
    """Hand this terminal to the run's screen/tmux session (detach: Ctrl-a d / Ctrl-b d)."""
    import os
    import sys

    from expctl.errors import BadInputError, ConflictError
    from expctl.launchers import get_launcher
    from expctl.state import run_status

    run = _load(run_id)
    st = run_status(run)
    if st.state == "created":
        raise ConflictError(f"Run `{run.id}` has not been launched.")
    launcher = get_launcher(st.launcher or "local")
    if not st.session:
        launcher.attach_argv("")  # local: raises the explanation
        raise ConflictError(f"Run `{run.id}` has no session to attach to.")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise BadInputError("`expctl attach` needs a terminal (stdin and stdout are not a TTY).",
                            hint=f"read the output with `expctl logs {run.id}`")
    if not launcher.session_alive(st.session):
        raise ConflictError(f"The {st.launcher} session `{st.session}` of run `{run.id}` has "
                            f"ended ({st.state}).", hint=f"see `expctl logs {run.id}`")
    argv = launcher.attach_argv(st.session)
    os.execvp(argv[0], argv)


@app.command()
def stop(
    run_id: str | None = typer.Argument(None, help="Run id (default: the current run)."),
    force: bool = typer.Option(False, "--force", help="SIGKILL the job's processes now."),
    grace: float = typer.Option(30.0, "--grace", min=0.0, help="Seconds the job gets after "
                                "SIGINT (to save and exit) before SIGTERM, then SIGKILL."),
) -> None:
    """Stop a running job and everything it started; its exit record is still written."""
    from expctl import console
    from expctl.launchers.control import stop_job
    from expctl.launchers.status import status_text

    run = _load(run_id)
    final = stop_job(run, force=force, grace=grace, notify=console.info)
    console.success(f"run {run.id}: {status_text(final)}")
    _reindex(get_workspace(), run.id)  # the registry keeps each run's state for `ls`


@app.command()
def wait(
    run_id: str | None = typer.Argument(None, help="Run id (default: the current run)."),
    timeout: float | None = typer.Option(None, "--timeout", min=0.0,
                                            help="Give up after this many seconds (exit 124)."),
) -> None:
    """Wait for the run to end, showing step/planned steps, time since the job started, the
    ETA from its own pace and the latest loss.

    Exits with the run's code: 0 finished, the job's code if it failed, 128+signal if it was
    killed or stopped, 125 if it was lost, 124 if --timeout ran out. Ctrl-C stops only the
    waiting (exit 130): the job goes on until `expctl stop RUN`."""
    from expctl import console
    from expctl.cli.watching import interrupted, watch_job
    from expctl.errors import ConflictError
    from expctl.launchers.control import TIMEOUT_EXIT_CODE, exit_code_for
    from expctl.launchers.status import status_text
    from expctl.state import run_status

    run = _load(run_id)
    try:
        if run_status(run).state == "created":
            raise ConflictError(f"Run `{run.id}` has not been launched.",
                                hint=f"launch it with `expctl launch {run.id}`")
        final, timed_out = watch_job(get_workspace(), run, timeout)
    except KeyboardInterrupt:
        raise typer.Exit(interrupted(run)) from None
    if timed_out:
        console.error(f"run {run.id} is still running after {timeout:g}s")
        raise typer.Exit(TIMEOUT_EXIT_CODE)
    code = exit_code_for(final)
    message = f"run {run.id}: {status_text(final)}"
    if code == 0:
        console.success(message)
    else:
        console.error(message)
    raise typer.Exit(code)
