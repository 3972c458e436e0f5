"""Cycle: new, launch, wait, gather, validate, record and (optionally) commit, unattended.

What is already done is read from the run folder, never from a separate state file:

    new       run.yaml exists
    launch    launch.json exists (the job is running or has ended): never launched twice
    wait      the job is no longer running; a failed or killed job stops the cycle
    gather    idempotent (its manifest), so it simply runs again
    validate  validation.json says exit code 0, after the training ended
    record    experiment_results.json was written after that validation
    commit    only with --commit; "nothing to commit" means it was done

Running it again after a failure or an interruption therefore continues where it stopped.
Every phase's progress is also appended to training_logs/cycle.log, which is what a detached
cycle leaves behind for the user.
"""

from __future__ import annotations

import fcntl
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from expctl.errors import (
    BadInputError,
    ConflictError,
    ExpctlError,
    JobFailedError,
    NothingToCommitError,
    Terminated,
)
from expctl.launchers import get_launcher
from expctl.launchers.control import LOST_EXIT_CODE, exit_code_for, wait_for
from expctl.launchers.envfile import start_with_caller_environment
from expctl.metrics.context import run_recipe
from expctl.metrics.criteria import parse_criteria
from expctl.phases.commit import commit_run
from expctl.phases.gather import gather
from expctl.phases.launch import plan_launch, start
from expctl.phases.new import new_run
from expctl.phases.record import record_run
from expctl.phases.validate import Echo, run_validation
from expctl.rundir import CYCLE_LOG, RUN_FILE, now_iso, parse_iso, read_validation_record
from expctl.runs import Run, load_run
from expctl.state import run_status, validation_state
from expctl.workspace import Workspace


@dataclass
class CycleOptions:
    launcher: str | None = None  # for the training job; default: recipe, then settings
    commit: bool = False
    findings: str | None = None
    recipe: str | None = None  # for `new`, when the run does not exist yet
    sets: list[str] = field(default_factory=list)
    hypothesis: str | None = None


@dataclass
class PhaseEvent:
    """A line of progress: phase, what happened (start, done, skipped) and details."""

    phase: str
    state: str
    detail: str = ""

    def text(self) -> str:
        return f"{self.phase}: {self.state}" + (f" ({self.detail})" if self.detail else "")


Report = Callable[[PhaseEvent], None]
Watch = Callable[[Run], Any]  # waits for the run's training job; returns its final JobStatus


@dataclass
class CycleResult:
    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    commit_sha: str | None = None
    outcomes: dict[str, Any] = field(default_factory=dict)  # each phase's returned value


class _Progress:
    """Sends events to the caller and appends them to the run's cycle.log."""

    def __init__(self, report: Report):
        self.report = report
        self.run: Run | None = None

    def __call__(self, phase: str, state: str, detail: str = "") -> None:
        event = PhaseEvent(phase, state, detail)
        self._append(event)
        self.report(event)

    def log_only(self, phase: str, state: str, detail: str = "") -> None:
        """An event for cycle.log only (the caller shows errors its own way)."""
        self._append(PhaseEvent(phase, state, detail))

    def _append(self, event: PhaseEvent) -> None:
        if self.run is None:
            return
        log = self.run.path / CYCLE_LOG
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{now_iso()} {event.text()}\n")


def run_cycle(ws: Workspace, run_id: str, options: CycleOptions, report: Report,
              echo: Echo | None = None, watch: Watch | None = None) -> CycleResult:
    """Take the run through every unfinished phase; see the module docstring. `watch` waits
    for the training (the CLI's shows progress); by default it waits quietly."""
    progress = _Progress(report)
    run = _new(ws, run_id, options, progress)
    progress.run = run
    result = CycleResult(run.id)
    try:
        with _one_cycle_at_a_time(ws, run, progress):
            _check_recipe(run)
            _launch(ws, run, options, progress)
            _wait(run, progress, watch)
            _gather(ws, run, "train", progress, result)
            validated = _validate(ws, run, progress, echo)
            _record(ws, run, validated, progress, result)
            if options.commit:
                _commit(ws, run, options, progress, result)
    except ExpctlError as exc:
        progress.log_only("cycle", "failed", exc.message)  # for whoever reads cycle.log later
        raise
    except (KeyboardInterrupt, Terminated):
        progress.log_only("cycle", "interrupted", "run it again to continue")
        raise
    progress.log_only("cycle", "done")
    return result


@contextmanager
def _one_cycle_at_a_time(ws: Workspace, run: Run, progress: _Progress) -> Iterator[None]:
    """A second cycle of a run waits for the first (a lock in the git-ignored state folder),
    then continues where that one stopped: usually with nothing left to do."""
    folder = ws.state_dir / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{run.id}.cycle.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("cycle", "waiting", "another cycle of this run is running; this one "
                     "continues when it ends")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@dataclass
class Validated:
    """What `expctl validate` did: the job's outcome, then gather and record."""

    outcome: Any
    gathered: Any
    recorded: Any


def validate_and_record(ws: Workspace, run: Run, echo: Echo | None = None,
                        while_training: bool = False) -> Validated:
    """validate -> gather (validate phase) -> record, with the same guards as a cycle: a run
    still training or a validation already running elsewhere is refused (the first unless
    `while_training`), a failed validation stops before gather."""
    outcome = run_validation(ws, run, echo, while_training=while_training)
    if outcome.exit_code != 0:
        raise JobFailedError(f"Validation of `{run.id}` failed (exit code {outcome.exit_code}).",
                             outcome.exit_code, hint=f"see {outcome.log}")
    gathered = gather(ws, run, "validate")
    gathered.check()
    return Validated(outcome, gathered, record_run(ws, run))


def _new(ws: Workspace, run_id: str, options: CycleOptions, progress: _Progress) -> Run:
    if (ws.run_dir(run_id) / RUN_FILE).is_file():
        run = load_run(ws, run_id)
        if options.sets and list(options.sets) != run.info.overrides:
            raise ConflictError(
                f"Run `{run_id}` already exists with other overrides "
                f"({' '.join(run.info.overrides) or 'none'}).",
                hint="drop --set to continue it, or use a new run id",
            )
        if options.recipe and options.recipe != run.info.recipe:
            raise ConflictError(f"Run `{run_id}` already exists with recipe "
                                f"`{run.info.recipe}`, not `{options.recipe}`.")
        progress("new", "skipped", "run exists")
        return run
    progress("new", "start")
    run = new_run(ws, run_id, options.recipe, options.sets, options.hypothesis)
    progress.run = run
    progress("new", "done", f"recipe {run.info.recipe}")
    return run


def _check_recipe(run: Run) -> None:
    """Fail before hours of training on what would fail after it: criteria and validation."""
    recipe = run_recipe(run)
    parse_criteria(recipe.criteria)
    if recipe.validation is None and not recipe.metrics.sources:
        raise BadInputError(f"Recipe `{run.info.recipe}` has neither `validate:` nor metric "
                            "sources: a cycle could not record anything.")


def _launch(ws: Workspace, run: Run, options: CycleOptions, progress: _Progress) -> None:
    state = run_status(run).state
    if state != "created":
        progress("launch", "skipped", f"already launched, {state}")
        return
    plan = plan_launch(ws, run.id, options.launcher)
    progress("launch", "start", plan.launcher)
    launched = start(ws, plan)
    where = f"session {launched.session}" if launched.session else "background process"
    progress("launch", "done", f"{plan.launcher}, {where}")


def _wait(run: Run, progress: _Progress, watch: Watch | None) -> None:
    status = run_status(run)
    if status.state == "running":
        progress("wait", "start", "training is running")
        status = watch(run) if watch is not None else wait_for(run)[0]
    code = exit_code_for(status)
    if status.state == "finished":
        progress("wait", "done", "training finished")
        return
    progress("wait", "failed", f"training {status.state}, exit code {code}")
    if code == LOST_EXIT_CODE:
        raise ExpctlError(f"The training of run `{run.id}` was lost (its supervisor is gone "
                          "without an exit record).",
                          hint=f"continue it with `expctl launch {run.id} --resume`")
    raise JobFailedError(f"The training of run `{run.id}` {status.state} (exit code {code}).",
                         code, hint=f"see its log: `expctl logs {run.id}`")


def _gather(ws: Workspace, run: Run, phase: str, progress: _Progress,
            result: CycleResult) -> None:
    progress(f"gather {phase}", "start")
    gathered = gather(ws, run, phase)
    gathered.check()
    result.warnings += [item.describe(run.id) for item in gathered.ambiguous]
    result.outcomes[f"gather_{phase}"] = gathered
    new = sum(1 for g in gathered.gathered if g.action not in ("unchanged", "in place"))
    links = f", {len(gathered.refused)} link(s) out of their folder refused" \
        if gathered.refused else ""
    progress(f"gather {phase}", "done", f"{len(gathered.gathered)} file(s), {new} new{links}")


def _validate(ws: Workspace, run: Run, progress: _Progress, echo: Echo | None) -> bool:
    """Run validation unless it already succeeded after this training; True if it ran now."""
    if run_recipe(run).validation is None:
        progress("validate", "skipped", "recipe has no validate section")
        return False
    state = validation_state(run)
    if state == "running":
        raise ConflictError(f"Run `{run.id}` is being validated by another command.",
                            hint="wait for it, then run the cycle again")
    if state == "finished" and _after_training(run, read_validation_record(run.path) or {}):
        progress("validate", "skipped", "already validated")
        return False
    progress("validate", "start")
    outcome = run_validation(ws, run, echo)
    if outcome.exit_code != 0:
        progress("validate", "failed", f"exit code {outcome.exit_code}")
        raise JobFailedError(f"Validation of run `{run.id}` failed (exit code "
                             f"{outcome.exit_code}).", outcome.exit_code,
                             hint=f"see {outcome.log}")
    progress("validate", "done", "exit code 0")
    return True


def _after_training(run: Run, record: dict[str, Any]) -> bool:
    ended, started = parse_iso(run_status(run).ended), parse_iso(record.get("started"))
    return ended is not None and started is not None and started >= ended


def _record(ws: Workspace, run: Run, validated: bool, progress: _Progress,
            result: CycleResult) -> None:
    if not validated and _recorded_after_validation(run):
        progress("record", "skipped", "already recorded")
        result.metrics = run.metrics()
        return
    if run_recipe(run).validation is not None:
        _gather(ws, run, "validate", progress, result)
    progress("record", "start")
    recorded = record_run(ws, run)
    result.metrics = recorded.metrics
    result.warnings += recorded.warnings
    result.outcomes["record"] = recorded
    progress("record", "done", f"{len(recorded.metrics)} metric(s)")


def _recorded_after_validation(run: Run) -> bool:
    results = run.results()
    if results is None or not results.recorded:
        return False
    record = read_validation_record(run.path)
    if record is None:
        return True  # no validation phase: recorded once is enough
    recorded, ended = parse_iso(results.recorded), parse_iso(record.get("ended"))
    return recorded is not None and ended is not None and recorded >= ended


def _commit(ws: Workspace, run: Run, options: CycleOptions, progress: _Progress,
            result: CycleResult) -> None:
    progress("commit", "start")
    try:
        plan = commit_run(ws, load_run(ws, run.id), options.findings)
    except NothingToCommitError:
        progress("commit", "skipped", "nothing new to commit")
        return
    result.commit_sha = plan.sha
    progress("commit", "done", f"{(plan.sha or '')[:10]}, {len(plan.changed)} file(s)")


# --- detached: the whole cycle in a session -------------------------------------------------


def detached_argv(ws: Workspace, run_id: str, options: CycleOptions) -> list[str]:
    """The cycle as a command for a session; its training runs as a local background job."""
    argv = [sys.executable, "-m", "expctl", "-C", str(ws.root), "cycle", run_id, "--local"]
    if options.commit:
        argv.append("--commit")
    if options.findings:
        argv += ["--findings", options.findings]
    return argv


def start_detached(ws: Workspace, run_id: str, options: CycleOptions, launcher_name: str,
                   report: Report) -> tuple[Run, str | None]:
    """Create the run here (so a bad recipe fails now), then run the cycle in a screen/tmux
    session or a background process; returns the run and the session to attach to."""
    launcher = get_launcher(launcher_name)
    launcher.check_available()
    progress = _Progress(report)
    run = _new(ws, run_id, options, progress)
    progress.run = run
    _check_recipe(run)
    (run.path / "training_logs").mkdir(exist_ok=True)
    name = launcher.session_name(f"{run.id}-cycle")
    started = start_with_caller_environment(launcher, detached_argv(ws, run.id, options),
                                            run.path, name, ws.state_dir / "jobs",
                                            f"{run.id}-cycle")
    progress("detach", "done", f"session {started.session}" if started.session
             else "background process")
    return run, started.session
