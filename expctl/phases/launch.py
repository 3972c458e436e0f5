"""The launch phase: decide what to run, write launch.json, start the supervisor detached.

Which runs may be launched:
    created                      yes
    failed, killed, lost         only with --resume (the recipe's resume_args are appended)
    running                      never (ConflictError)
    finished                     never: its results are final; train further in a new run id
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from expctl.errors import BadInputError, ConflictError, ExpctlError
from expctl.files import write_text_atomic, write_yaml
from expctl.launchers import get_launcher
from expctl.launchers.command import JobCommand, build_command, run_recipe
from expctl.launchers.envfile import save_environment
from expctl.launchers.jobfiles import FORMAT_VERSION, JOBS_DIR, launch_lock_path
from expctl.recipes import Recipe
from expctl.rundir import (
    COMMAND_FILE,
    CONFIG_FILE,
    JOB_FILE,
    LAUNCH_FILE,
    SUPERVISOR_LOG,
    now_iso,
    read_json_file,
    write_json_atomic,
)
from expctl.runs import Run, keep_attempt_configs, load_run, save_info
from expctl.state import run_state
from expctl.workspace import Workspace
from expctl.worktree import code_changes

START_TIMEOUT_S = 20.0  # how long `launch` waits for the supervisor to report the job started
RESUMABLE = ("failed", "killed", "lost")


@dataclass
class LaunchPlan:
    """Everything decided before anything starts (what `--dry-run` shows)."""

    run: Run
    launcher: str
    command: JobCommand
    resume: bool
    notes: list[str] = field(default_factory=list)  # things the user should know
    sets: list[str] = field(default_factory=list)  # --set given with --resume
    config: dict | None = None  # the new attempt's config.yaml, when --set changed it


@dataclass
class Launched:
    run_id: str
    launcher: str
    session: str | None
    supervisor_pid: int | None
    attempt: int
    warnings: list[str] = field(default_factory=list)


def plan_launch(
    ws: Workspace, run_id: str, launcher: str | None = None, gpus: list[int] | None = None,
    resume: bool = False, sets: list[str] = (),
) -> LaunchPlan:
    """Check the run may be launched and build its command; starts nothing. `sets` change
    the settings of a resumed attempt (checked like `new --set`)."""
    run = load_run(ws, run_id)
    if sets and not resume:
        raise BadInputError("--set changes the settings of a resumed attempt: give --resume.",
                            hint="for a run with other settings: `expctl new RUN --set k=v`")
    check_launchable(run, resume)
    recipe, config = run_recipe(run), None
    if sets:
        recipe, config = resumed_config(run, list(sets))
        run.info.steps = recipe.steps()
    name = launcher or recipe.launch.launcher or ws.settings.launcher
    chosen = get_launcher(name)  # an unknown launcher fails before anything is written
    notes = []
    if resume and not recipe.resume_args:
        notes.append(f"recipe `{run.info.recipe}` has no resume_args: the same command runs "
                     "again (fine if the script resumes from its checkpoints by itself)")
    command = build_command(ws, run, recipe, gpus, resume)
    if run.info.isolation.mode == "tree":
        changed = code_changes(ws, run)
        if changed:
            notes.append(f"the workspace's code has changed since `new` ({changed}); run "
                         f"`{run.id}` runs the code it recorded (take a fresh snapshot of a "
                         f"never-launched run with `expctl snapshot {run.id}`)")
    if hasattr(chosen, "adapt_command"):  # Slurm: srun and accelerate's place in the job
        command = chosen.adapt_command(command, run.path)
    return LaunchPlan(run, name, command, resume, notes, list(sets), config)


def resumed_config(run: Run, sets: list[str]) -> tuple[Recipe, dict]:
    """The run's config.yaml with the overrides applied (same checks as `new --set`)."""
    import copy

    from expctl.files import validate
    from expctl.recipes import apply_override, recipe_to_dict

    raw = copy.deepcopy(run.config())
    for text in sets:
        apply_override(raw, text)
    recipe = validate(Recipe, raw, f"run {run.id} with --set {' '.join(sets)}")
    return recipe, recipe_to_dict(recipe)


def check_launchable(run: Run, resume: bool) -> None:
    """Refuse launches that would run a job twice or overwrite final results."""
    if run.info.imported:
        raise ConflictError(f"Run `{run.id}` was imported; it has no job to launch.")
    state = run_state(run)
    if state in ("queued", "blocked"):
        raise ConflictError(f"Run `{run.id}` is {state} in the workspace queue.",
                            hint=f"see `expctl queue`, or take it out: `expctl queue cancel "
                            f"{run.id}`")
    if state == "running":
        raise ConflictError(f"Run `{run.id}` is already running.",
                            hint=f"see `expctl status {run.id}`, or `expctl stop {run.id}`")
    if state == "finished":
        raise ConflictError(
            f"Run `{run.id}` has finished; its results are final.",
            hint="to train again or further, create a new run id with `expctl new`",
        )
    if state == "created" and resume:
        raise BadInputError(f"Run `{run.id}` was never launched: there is nothing to resume.",
                            hint=f"launch it without --resume: `expctl launch {run.id}`")
    if state in RESUMABLE and not resume:
        raise ConflictError(
            f"Run `{run.id}` is {state}.",
            hint=f"continue it with `expctl launch {run.id} --resume`, or start over in a new run",
        )


def describe(plan: LaunchPlan) -> dict:
    """The plan as plain data (for --dry-run)."""
    return {"run": plan.run.id, "launcher": plan.launcher, "resume": plan.resume,
            "cwd": str(plan.command.cwd), "env": plan.command.env, "argv": plan.command.argv,
            "command": shlex.join(plan.command.argv)}


def start(ws: Workspace, plan: LaunchPlan, environ: dict[str, str] | None = None) -> Launched:
    """Write launch.json and training_command.txt, start the supervisor, wait for the job.
    `environ`: the environment the job gets (default: this process's; the queue passes the
    one of the command that queued the run)."""
    launcher = get_launcher(plan.launcher)
    launcher.check_available()
    run = plan.run
    with _launch_lock(ws, run.id):
        check_launchable(load_run(ws, run.id), plan.resume)  # another launch may have won
        earlier = int((read_json_file(run.path / LAUNCH_FILE) or {}).get("attempt") or 0)
        old_config = _change_config(run, plan.config, earlier)
        spec, previous = _write_spec(ws, plan, launcher.session_name(run.id), environ)
        attempt, launch_id, session = spec["attempt"], spec["launch_id"], spec["session"]
        launch_path = run.path / LAUNCH_FILE
        argv = [sys.executable, "-m", "expctl.launchers.supervisor", str(launch_path)]
        started = None
        try:
            started = launcher.start(argv, run.path, session)
            job = {} if started.queued else _wait_for_job(run.path, launch_id, started.gone,
                                                          _env_path(spec))
        except BaseException:
            if started is None or started.gone():  # nothing runs: leave the run as it was
                _undo(run.path, previous, attempt - 1, _env_path(spec))
                if old_config is not None:
                    write_text_atomic(run.path / CONFIG_FILE, old_config)
            raise
        spec["session"] = started.session
        spec["supervisor_pid"] = (job.get("supervisor") or {}).get("pid")
        write_json_atomic(launch_path, spec)
        current = load_run(ws, run.id)  # re-read: keep whatever else changed in run.yaml
        current.info.launcher, current.info.session = plan.launcher, started.session
        if plan.config is not None:
            current.info.steps = plan.run.info.steps
        save_info(current)
    # Indexed here, before the caller prints anything: every way a job starts (launch,
    # cycle, a detached cycle, Slurm) leaves the registry's row as fresh as `status`, even
    # when the caller's output goes to a pipe that closes (`launch | head -1`).
    warnings = _index(ws, run.id)
    return Launched(run.id, plan.launcher, started.session, spec["supervisor_pid"], attempt,
                    warnings)


def _index(ws: Workspace, run_id: str) -> list[str]:
    """Update the run's registry row; the job already runs, so a failure is only a warning."""
    try:
        from expctl.registry import index_runs

        index_runs(ws, [run_id])
    except Exception as exc:  # noqa: BLE001 - the index can always be rebuilt from the folders
        reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        return [f"the registry was not updated ({reason}); run `expctl reindex`"]
    return []


def start_array(ws: Workspace, plans: list[LaunchPlan], job_name: str, tasks: Path,
                output_dir: Path, after_job: str | None = None) -> tuple[str, list[Launched]]:
    """Launch Slurm runs as one job array: task i runs the run folder on line i of `tasks`
    (which must list the plans' runs in order). Returns the array's job id."""
    from contextlib import ExitStack

    from expctl.launchers import slurm

    slurm.LAUNCHER.check_available()
    listed = [line for line in tasks.read_text(encoding="utf-8").splitlines() if line]
    if listed != [str(p.run.path) for p in plans]:
        raise ExpctlError(f"{tasks} does not list the runs in order.")
    specs = [slurm.slurm_spec(p.run.path) for p in plans]
    if any(s != specs[0] for s in specs):
        raise BadInputError("A job array has one set of sbatch settings, but the runs' "
                            "`slurm:` settings differ.", hint="launch them one by one")
    with ExitStack() as stack:
        for plan in plans:
            stack.enter_context(_launch_lock(ws, plan.run.id))
            check_launchable(load_run(ws, plan.run.id), plan.resume)
        written = []
        try:
            for plan in plans:
                written.append(_write_spec(ws, plan, None, None, job_name=job_name))
            argv = [specs[0].python or sys.executable, "-m", "expctl.launchers.supervisor"]
            job_id = slurm.submit_array(argv, tasks, job_name, specs[0], output_dir, after_job)
        except BaseException:
            for plan, (spec, previous) in zip(plans, written, strict=False):  # those written
                _undo(plan.run.path, previous, spec["attempt"] - 1, _env_path(spec))
            raise
        launched = []
        for index, (plan, (spec, _)) in enumerate(zip(plans, written, strict=True)):
            session = f"{job_id}_{index}"
            _record_session(ws, plan, spec, session)
            launched.append(Launched(plan.run.id, "slurm", session, None, spec["attempt"]))
    return job_id, launched


def _write_spec(ws: Workspace, plan: LaunchPlan, session: str | None,
                environ: dict[str, str] | None, job_name: str | None = None
                ) -> tuple[dict, dict]:
    """Write launch.json (what the supervisor runs) and training_command.txt, keeping the
    previous attempt's exit record; returns the spec and the launch.json it replaced."""
    run = plan.run
    previous = read_json_file(run.path / LAUNCH_FILE) or {}
    attempt = int(previous.get("attempt") or 0) + 1
    _keep_old_record(run.path, attempt - 1)
    launch_id = secrets.token_hex(6)
    spec = {
        "version": FORMAT_VERSION,
        "launch_id": launch_id,
        "run_id": run.id,
        "attempt": attempt,
        "resume": plan.resume,
        "sets": plan.sets,
        "launched": now_iso(),
        "launcher": plan.launcher,
        "session": session,
        "argv": plan.command.argv,
        "cwd": str(plan.command.cwd),
        "env": plan.command.env,
        # The caller's environment, unless the launcher carries it itself (Slurm).
        "env_file": None if getattr(get_launcher(plan.launcher), "exports_environment", False)
        else str(save_environment(ws.state_dir / JOBS_DIR, f"{run.id}-{launch_id}", environ)),
        "python": sys.executable,
        "supervisor_pid": None,
    }
    if job_name is not None:
        spec["job_name"] = job_name  # a job array's tasks share one Slurm job name
    # Not fsynced: the job should start at once; the rewrite after the start is.
    write_json_atomic(run.path / LAUNCH_FILE, spec, durable=False)
    (run.path / COMMAND_FILE).write_text(shlex.join(plan.command.argv) + "\n", "utf-8")
    return spec, previous


def _record_session(ws: Workspace, plan: LaunchPlan, spec: dict, session: str | None) -> None:
    """The started job's session (or Slurm job id) in launch.json and run.yaml."""
    spec["session"] = session
    write_json_atomic(plan.run.path / LAUNCH_FILE, spec)
    current = load_run(ws, plan.run.id)  # re-read: keep whatever else changed in run.yaml
    current.info.launcher, current.info.session = plan.launcher, session
    save_info(current)


@contextmanager
def _launch_lock(ws: Workspace, run_id: str) -> Iterator[None]:
    """One `launch` of a run at a time (the lock lives in the git-ignored state folder)."""
    lock = launch_lock_path(ws.state_dir, run_id)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError(f"Run `{run_id}` is being launched by another command.") from None
        yield


def _change_config(run: Run, config: dict | None, attempts: int) -> bytes | None:
    """Write the new attempt's config.yaml after keeping the one earlier attempts ran with;
    returns the old text (to put back if nothing starts), None when nothing changes."""
    if config is None:
        return None
    old = (run.path / CONFIG_FILE).read_bytes()
    keep_attempt_configs(run, attempts)
    write_yaml(run.path / CONFIG_FILE, config)
    return old


def _keep_old_record(run_path: Path, attempt: int) -> None:
    """An earlier attempt's exit record becomes job.<attempt>.json, kept for the history."""
    record = run_path / JOB_FILE
    if attempt > 0 and record.exists():
        os.replace(record, record.with_name(f"job.{attempt}.json"))


def _env_path(spec: dict) -> Path | None:
    return Path(spec["env_file"]) if spec.get("env_file") else None


def _undo(run_path: Path, previous: dict, attempt: int, env_file: Path | None) -> None:
    """Put back launch.json and the exit record of the attempt before a launch that failed."""
    if env_file is not None:
        env_file.unlink(missing_ok=True)
    if previous:
        write_json_atomic(run_path / LAUNCH_FILE, previous)
        old = run_path / JOB_FILE
        if (kept := old.with_name(f"job.{attempt}.json")).exists():
            os.replace(kept, old)
    else:
        (run_path / LAUNCH_FILE).unlink(missing_ok=True)
        (run_path / COMMAND_FILE).unlink(missing_ok=True)


def _wait_for_job(run_path: Path, launch_id: str, gone, env_file: Path | None) -> dict:
    """The supervisor's first record; an error with its log if it died or never wrote one."""
    deadline = time.monotonic() + START_TIMEOUT_S
    next_look = 0.0
    while True:
        job = read_json_file(run_path / JOB_FILE)
        if job is not None and job.get("launch_id") == launch_id:
            return job
        now = time.monotonic()
        if now > deadline:
            break
        if now >= next_look:  # `gone` may run a tmux client: not every few milliseconds
            if gone():
                break
            next_look = now + 0.1
        time.sleep(0.005)
    job = read_json_file(run_path / JOB_FILE)  # it may have finished just now
    if job is not None and job.get("launch_id") == launch_id:
        return job
    if env_file is not None:
        env_file.unlink(missing_ok=True)
    details = _tail(run_path / SUPERVISOR_LOG)
    what = "exited" if gone() else f"did not report within {START_TIMEOUT_S:.0f}s"
    raise ExpctlError(f"The job's supervisor {what} without starting the job."
                      + (f" Its log says: {details}" if details else ""),
                      hint=f"see {run_path / SUPERVISOR_LOG}")


def _tail(path: Path, limit: int = 300) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    return " ".join(text[-limit:].split())
