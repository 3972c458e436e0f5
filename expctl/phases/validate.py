"""Validate: run the recipe's validation command on the gathered checkpoint.

The command runs as an argument list (never through a shell), with its whole output copied
byte for byte to validation_results/validation_output.log while it is shown. Its start, end
and exit code go to validation_results/validation.json: the record the validate-phase gather
takes its time window from, and what `cycle` reads to know validation is done.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expctl.errors import BadInputError, ExpctlError, NotFoundError
from expctl.metrics.context import run_context, run_recipe
from expctl.recipes import Recipe, render_command
from expctl.rundir import (
    FINAL_CHECKPOINT,
    VALIDATION_LOG,
    now_iso,
    write_validation_record,
)
from expctl.runs import Run
from expctl.state import refuse_while_training, validation_state
from expctl.workspace import Workspace
from expctl.worktree import ensure_workdir

CHUNK = 65536

Echo = Callable[[bytes], None]  # receives a job's output as it arrives


@dataclass
class ValidationCommand:
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)  # added to the caller's environment


@dataclass
class ValidationOutcome:
    exit_code: int
    log: Path
    started: str
    ended: str


def validation_command(ws: Workspace, run: Run, recipe: Recipe | None = None) -> ValidationCommand:
    """The rendered validation command: `{checkpoint}` is the gathered final checkpoint."""
    recipe = recipe or run_recipe(run)
    if recipe.validation is None:
        raise BadInputError(
            f"Recipe `{run.info.recipe}` of run `{run.id}` has no `validate:` section.",
            hint="add `validate: {command: ...}` to the recipe, then create a new run",
        )
    checkpoint = run.path / FINAL_CHECKPOINT
    template = recipe.validation.command
    text = template if isinstance(template, str) else " ".join(template)
    if "{checkpoint}" in text and not checkpoint.exists():
        raise NotFoundError(
            f"Run `{run.id}` has no gathered checkpoint ({FINAL_CHECKPOINT}).",
            hint=f"run `expctl gather {run.id}` first",
        )
    context = {**run_context(ws, run, recipe), "checkpoint": str(checkpoint)}
    argv = render_command(template, recipe.params, context)
    if not argv:
        raise BadInputError(f"The validation command of run `{run.id}` is empty.")
    cwd = ensure_workdir(ws, run, recipe, "validate")  # the run's private tree, or the workspace
    if not cwd.is_dir():
        raise NotFoundError(f"Working directory `{cwd}` does not exist.",
                            hint="fix validate.workdir (or launch.workdir) in the recipe")
    env = {**recipe.launch.env, **recipe.validation.env}
    env.update({"EXPCTL_RUN_DIR": str(run.path), "EXPCTL_RUN_ID": run.id,
                "PYTHONUNBUFFERED": "1"})
    return ValidationCommand(argv, cwd, {k: str(v) for k, v in env.items()})


def run_validation(ws: Workspace, run: Run, echo: Echo | None = None,
                   while_training: bool = False) -> ValidationOutcome:
    """Run the validation command in the foreground; `echo` gets the output as it comes.
    Refused while the run still trains, unless `while_training`."""
    from expctl.launchers.jobfiles import identity
    from expctl.launchers.liveness import LAUNCH_ID_VARIABLE
    if not while_training:
        refuse_while_training(run, "validate")
    if validation_state(run) == "running":
        from expctl.errors import ConflictError

        raise ConflictError(f"Run `{run.id}` is already being validated.",
                            hint="wait for that validation to end")

    command = validation_command(ws, run)
    log = run.path / VALIDATION_LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"argv": command.argv, "cwd": str(command.cwd),
                              "started": now_iso(), "ended": None, "exit_code": None,
                              "process": identity(os.getpid()),
                              "launch_id": secrets.token_hex(6)}
    write_validation_record(run.path, record)
    # Marks the command's processes, so they are found even if this process is killed.
    env = {**os.environ, **command.env, LAUNCH_ID_VARIABLE: record["launch_id"]}
    with open(log, "wb") as out:
        try:
            proc = subprocess.Popen(command.argv, cwd=command.cwd, env=env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT)
        except OSError as exc:
            text = f"expctl: cannot start the validation command: {exc.strerror}: {command.argv[0]}"
            out.write((text + "\n").encode())
            _finish(run, record, 127 if isinstance(exc, FileNotFoundError) else 126, text)
            raise ExpctlError(text, hint="check validate.command in the recipe") from None
        try:
            _pump(proc, out, echo)
            code = proc.wait()
        except BaseException:
            # Ctrl-C reaches the child too (same terminal); make sure it ends, then record.
            _stop(proc)
            _finish(run, record, _exit_status(proc.returncode), "interrupted")
            raise
    _finish(run, record, _exit_status(code))
    return ValidationOutcome(_exit_status(code), log, record["started"], record["ended"])


def _pump(proc: subprocess.Popen, out: Any, echo: Echo | None) -> None:
    """Copy output to the log as it arrives (raw bytes: carriage returns and all)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    while True:
        data = os.read(fd, CHUNK)
        if not data:
            break
        out.write(data)
        out.flush()
        if echo is not None:
            echo(data)
    proc.stdout.close()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _exit_status(returncode: int | None) -> int:
    """A shell-style status: 128+N for a job killed by signal N."""
    if returncode is None:
        return 1
    return 128 - returncode if returncode < 0 else returncode


def _finish(run: Run, record: dict[str, Any], code: int, error: str | None = None) -> None:
    record.update(ended=now_iso(), exit_code=code, error=error)
    write_validation_record(run.path, record)


def detached_argv(ws: Workspace, run: Run, while_training: bool = False) -> list[str]:
    """`expctl validate RUN` as a command for a session: it runs in the foreground there."""
    argv = [sys.executable, "-m", "expctl", "-C", str(ws.root), "validate", run.id]
    return [*argv, "--while-training"] if while_training else argv


def start_detached(ws: Workspace, run: Run, launcher_name: str,
                   while_training: bool = False) -> str | None:
    """Start validation in a screen/tmux session or as a background process; returns the
    session to attach to (None for a background process)."""
    from expctl.launchers import get_launcher
    from expctl.launchers.envfile import start_with_caller_environment

    launcher = get_launcher(launcher_name)
    launcher.check_available()
    if not while_training:  # fail here, not unseen inside the session
        refuse_while_training(run, "validate")
    validation_command(ws, run)
    if validation_state(run) == "running":
        from expctl.errors import ConflictError

        raise ConflictError(f"Run `{run.id}` is already being validated.")
    (run.path / "training_logs").mkdir(exist_ok=True)
    name = launcher.session_name(f"{run.id}-validate")
    started = start_with_caller_environment(launcher, detached_argv(ws, run, while_training),
                                            run.path, name, ws.state_dir / "jobs",
                                            f"{run.id}-validate")
    return started.session
