"""`expctl launch`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import run_argument, run_option, set_option
from expctl.cli.shared import queue_runs

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl launch 3scale_sizeaware_100k --tmux --gpus 0,1
  expctl launch 3scale_sizeaware_100k --dry-run
  expctl launch 3scale_baseline_100k 4scale_enhanced_100k --queue --priority 5
  expctl launch 4scale_enhanced_100k --resume --set train.batch_size=4
"""


@app.command(epilog=EXAMPLES)
def launch(
    run_ids: list[str] | None = run_argument("Run ids (default: the current run).", many=True),
    screen: bool = typer.Option(False, "--screen", help="Run in a detached screen session."),
    tmux: bool = typer.Option(False, "--tmux", help="Run in a detached tmux session."),
    local: bool = typer.Option(False, "--local", help="Run as a detached background process."),
    slurm: bool = typer.Option(False, "--slurm", help="Submit as a Slurm batch job (sbatch), "
                               "with the recipe's and expctl.yaml's `slurm:` settings."),
    gpus: str | None = typer.Option(None, "--gpus", metavar="IDS", help="GPU ids, e.g. 0,1: "
                                    "sets CUDA_VISIBLE_DEVICES, or accelerate's --gpu_ids and "
                                    "number of processes."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show argv, cwd and env; start nothing."),
    resume: bool = typer.Option(False, "--resume", help="Relaunch a failed, killed or lost run "
                                "with the recipe's resume_args appended."),
    sets: list[str] = set_option("With --resume: change a param for the new attempt, checked "
                                 "like `new --set` (config.yaml becomes the new attempt's; "
                                 "earlier ones stay in attempts/<n>/config.yaml). Repeatable."),
    queue: bool = typer.Option(False, "--queue", help="Put the runs in the workspace queue: "
                               "its scheduler starts each when its GPUs (or slots) are free."),
    priority: int = typer.Option(0, "--priority", metavar="N", help="With --queue: higher "
                                 "starts first."),
    after: list[str] = run_option([], "--after", help="With --queue: start only once this "
                                  "run has finished successfully (repeatable)."),
) -> None:
    """Start a run's training detached, under a supervisor.

    The supervisor logs every byte the job prints to training_logs/stdout.log and records its
    exit code; the job runs the code the run recorded at `new`.

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
        queue_runs(ws, ids, chosen[0] if chosen else None, priority, after, resume, dry_run)
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
        hints = f"follow it: expctl logs -F {run_id}  |  expctl status {run_id}"
        attachable = launched.session and launcher.attachable
        console.info(hints + (f"  |  expctl attach {run_id}" if attachable else ""))
        for warning in launched.warnings:
            console.warn(warning)
