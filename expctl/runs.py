"""The run folder contract: create a run, read its files, derive its status.

    runs/<id>/
      run.yaml  config.yaml  git.patch  untracked.txt  environment.txt
      experiment_hypothesis.md  training_command.txt  launch.json  metrics.jsonl
      checkpoints/  confusion_matrices/  training_logs/  validation_results/
      experiment_results.json
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from expctl.errors import BadInputError, ConflictError, NotFoundError
from expctl.files import read_json, read_yaml, validate, write_json, write_text_atomic, write_yaml
from expctl.ids import check_run_id
from expctl.workspace import Workspace

RUN_FILE = "run.yaml"
CONFIG_FILE = "config.yaml"
RESULTS_FILE = "experiment_results.json"
METRICS_FILE = "metrics.jsonl"  # written by expctl.track
LAUNCH_FILE = "launch.json"
HYPOTHESIS_FILE = "experiment_hypothesis.md"
SUBDIRS = ("checkpoints", "confusion_matrices", "training_logs", "validation_results")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GitState(Strict):
    available: bool
    sha: str | None = None
    branch: str | None = None
    dirty: bool = False
    untracked: int = 0
    reason: str | None = None


class RunInfo(Strict):
    """run.yaml: who the run is, where it came from, how it was launched."""

    id: str
    recipe: str | None = None
    created: str
    imported: bool = False  # results obtained elsewhere, brought in with `expctl import`
    steps: int | None = None  # planned steps
    hypothesis: str | None = None
    overrides: list[str] = Field(default_factory=list)  # the --set values given to `new`
    git: GitState = Field(default_factory=lambda: GitState(available=False))
    launcher: str | None = None  # local, screen, tmux, slurm: set by `launch`
    session: str | None = None  # screen/tmux session or Slurm job id


class Results(BaseModel):
    """experiment_results.json: final metrics and what `record` derived from them."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    metrics: dict[str, float] = Field(default_factory=dict)
    recorded: str | None = None


@dataclass
class Run:
    """A run folder and the files read from it."""

    path: Path
    info: RunInfo

    @property
    def id(self) -> str:
        return self.info.id

    def config(self) -> dict:
        path = self.path / CONFIG_FILE
        return (read_yaml(path) or {}) if path.exists() else {}

    def params(self) -> dict:
        return self.config().get("params", {}) or {}

    def results(self) -> Results | None:
        path = self.path / RESULTS_FILE
        if not path.exists():
            return None
        return validate(Results, read_json(path), str(path))

    def metrics(self) -> dict[str, float]:
        results = self.results()
        return dict(results.metrics) if results else {}

    def status(self) -> str:
        return read_status(self)


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def run_path(ws: Workspace, run_id: str) -> Path:
    return ws.runs_dir / check_run_id(run_id)


def load_run(ws: Workspace, run_id: str) -> Run:
    path = run_path(ws, run_id)
    info_path = path / RUN_FILE
    if not info_path.is_file():
        raise NotFoundError(f"No run `{run_id}` in {ws.runs_dir}.", hint="see `expctl ls`")
    info = validate(RunInfo, read_yaml(info_path), str(info_path))
    if info.id != run_id:
        raise BadInputError(
            f"{info_path} says id `{info.id}`, not `{run_id}`.",
            hint="a copied or renamed run folder? set `id:` in run.yaml to the folder's name",
        )
    return Run(path, info)


def resolve_run_id(ws: Workspace, run_id: str | None) -> str:
    """The id given, or the current run (the last one created with `new`)."""
    if run_id is not None:  # an empty id given is an error, not "the current run"
        return check_run_id(run_id)
    current = ws.current_run()
    if not current:
        raise BadInputError(
            "No run given and no current run.", hint="pass RUN, or create one with `expctl new`"
        )
    return current


def list_run_ids(ws: Workspace) -> list[str]:
    if not ws.runs_dir.is_dir():
        return []
    return sorted(p.name for p in ws.runs_dir.iterdir() if (p / RUN_FILE).is_file())


def save_info(run: Run) -> None:
    write_yaml(run.path / RUN_FILE, run.info.model_dump(mode="json"))


def create_run(
    ws: Workspace,
    run_id: str,
    recipe_name: str | None = None,
    overrides: list[str] = (),
    hypothesis: str | None = None,
) -> Run:
    """Create runs/<run_id> from a recipe: resolved config, git and environment snapshot.

    The folder is assembled under a temporary name and renamed into place, so a failure
    leaves nothing behind and two `new` of the same id cannot both succeed."""
    from expctl.recipes import load_recipe, parse_steps, recipe_for_run_id, steps_override

    check_run_id(run_id)
    if (ws.runs_dir / run_id).exists():
        raise ConflictError(
            f"Run `{run_id}` already exists.", hint="pick another id, or see `expctl show`"
        )
    steps = None
    if recipe_name is None:
        recipe_name, steps = recipe_for_run_id(ws, run_id)
    elif run_id.startswith(recipe_name + "_"):
        steps = parse_steps(run_id[len(recipe_name) + 1 :])
    all_overrides = list(overrides)
    if steps is not None:
        from expctl.recipes import load_raw

        all_overrides.insert(0, steps_override(recipe_name, load_raw(ws, recipe_name), steps))
    recipe, config = load_recipe(ws, recipe_name, all_overrides)

    from expctl.snapshot import environment_text, git_snapshot

    git = git_snapshot(ws.root, exclude=(ws.runs_dir, ws.state_dir))
    info = RunInfo(
        id=run_id,
        recipe=recipe_name,
        created=now_iso(),
        steps=recipe.steps(),
        hypothesis=hypothesis,
        overrides=list(overrides),
        git=GitState(**git.as_dict()),
    )
    ws.runs_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".new-{run_id}-", dir=ws.runs_dir))
    try:
        for sub in SUBDIRS:
            (tmp / sub).mkdir()
        write_yaml(tmp / CONFIG_FILE, config)
        write_yaml(tmp / RUN_FILE, info.model_dump(mode="json"))
        if git.patch:
            write_text_atomic(tmp / "git.patch", git.patch.rstrip(b"\n") + b"\n")
        if git.untracked:
            write_text_atomic(tmp / "untracked.txt", "\n".join(git.untracked) + "\n")
        write_text_atomic(tmp / "environment.txt", environment_text())
        write_text_atomic(tmp / HYPOTHESIS_FILE, hypothesis_text(run_id, recipe, info))
        os.rename(tmp, ws.runs_dir / run_id)  # fails if the id appeared meanwhile
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if (ws.runs_dir / run_id).exists():
            raise ConflictError(f"Run `{run_id}` already exists.") from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Run(ws.runs_dir / run_id, info)


def hypothesis_text(run_id: str, recipe: Any, info: RunInfo) -> str:
    """The documentation template a researcher fills in (USERS.md's standard)."""
    criteria = "\n".join(f"- {k} {v}" for k, v in recipe.criteria.items())
    criteria = criteria or "- (none in the recipe)"
    changes = "\n".join(f"  - `{o}`" for o in info.overrides) or "  - none (recipe defaults)"
    if info.git.available:
        sha = info.git.sha[:12] if info.git.sha else "(no commit)"
        git = f"{sha} on {info.git.branch or 'detached HEAD'}"
        git += ", with uncommitted changes (git.patch)" if info.git.dirty else ""
    else:
        git = f"no git ({info.git.reason})"
    return f"""# {run_id}

## Hypothesis
{info.hypothesis or "(write the hypothesis here)"}

## Success criteria
{criteria}

## Modification details
- Recipe: `{info.recipe}`{f" ({recipe.model})" if recipe.model else ""}
- Planned steps: {info.steps if info.steps is not None else "not set"}
- Overrides:
{changes}

## Implementation details
- Code: {git}
- Config backup: config.yaml; exact training command: training_command.txt

## Memory tests
(batch size that fits, OOM tests)
"""


def write_results(run: Run, metrics: dict[str, float], **extra: Any) -> Results:
    """Merge final metrics into experiment_results.json (other values stay unless replaced).

    Read, merge and write happen under a lock on the run folder, so two `record`s of the
    same run at once both land."""
    with locked(run.path):
        current = run.results()
        data = current.model_dump() if current else {"run_id": run.id}
        data["metrics"] = {**data.get("metrics", {}), **metrics}
        data["recorded"] = now_iso()
        data.update(extra)
        results = Results.model_validate(data)
        write_json(run.path / RESULTS_FILE, results.model_dump())
    return results


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on a folder itself (flock on its descriptor): no lock file appears
    in a run folder that gets committed, and the lock dies with the process holding it."""
    import fcntl

    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_status(run: Run) -> str:
    """Derived from the files: imported, created, or the launcher's view of the job."""
    if run.info.imported:
        return "imported"
    if not (run.path / LAUNCH_FILE).exists():
        return "created"
    from expctl.launchers.status import derive_status

    return derive_status(run, tail_bytes=0).state
