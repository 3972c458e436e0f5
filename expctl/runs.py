"""A run folder as data: run.yaml (RunInfo), config.yaml, experiment_results.json (Results),
read and written with their models. The file names are the contract's (expctl.rundir); the
`new` phase creates folders (expctl.phases.new)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from expctl.errors import BadInputError, NotFoundError
from expctl.files import read_json, read_yaml, validate, write_json, write_text_atomic, write_yaml
from expctl.ids import check_run_id
from expctl.rundir import (
    ARCHIVE_DIR,
    CONFIG_FILE,
    RESULTS_FILE,
    RESULTS_HISTORY_DIR,
    RUN_FILE,
    attempt_config_path,
    now_iso,
)
from expctl.workspace import Workspace


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GitState(Strict):
    available: bool
    sha: str | None = None
    branch: str | None = None
    dirty: bool = False
    untracked: int = 0
    reason: str | None = None


class Isolation(Strict):
    """Where the run's jobs run: `tree`, its own checkout (expctl/worktree.py), or `none`, the
    shared workspace (the recipe opted out, or there is no git commit to check out)."""

    mode: Literal["tree", "none"] = "none"
    reason: str | None = None  # why a run shares the workspace


def isolation_for(wanted: str, git: Any) -> Isolation:
    """A private tree when the recipe wants one and there is a commit to check out."""
    if wanted == "none":
        return Isolation(mode="none", reason="the recipe says isolation: none")
    if not git.available:
        return Isolation(mode="none", reason=git.reason)
    if not git.sha:
        return Isolation(mode="none", reason="the repository has no commit yet")
    return Isolation(mode="tree")


class RunInfo(Strict):
    """run.yaml: who the run is, where it came from, how it was launched."""

    id: str
    recipe: str | None = None
    created: str
    imported: bool = False  # results obtained elsewhere, brought in with `expctl import`
    steps: int | None = None  # planned steps
    hypothesis: str | None = None
    overrides: list[str] = Field(default_factory=list)  # the --set values given to `new`
    forked_from: str | None = None  # `new --from RUN`: the run whose config this one started from
    git: GitState = Field(default_factory=lambda: GitState(available=False))
    launcher: str | None = None  # local, screen, tmux, slurm: set by `launch`
    session: str | None = None  # screen/tmux session or Slurm job id
    sweep: str | None = None  # the sweep this run belongs to (`expctl report --sweep`)
    isolation: Isolation = Field(default_factory=Isolation)


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


def run_path(ws: Workspace, run_id: str) -> Path:
    return ws.runs_dir / check_run_id(run_id)


def load_run(ws: Workspace, run_id: str) -> Run:
    path = run_path(ws, run_id)
    info_path = path / RUN_FILE
    if not info_path.is_file():
        archived = (ws.runs_dir / ARCHIVE_DIR / run_id / RUN_FILE).is_file()
        hint = (f"it is archived: `expctl archive --restore {run_id}` brings it back"
                if archived else "see `expctl ls`")
        raise NotFoundError(f"No run `{run_id}` in {ws.runs_dir}.", hint=hint)
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


def info_data(info: RunInfo) -> dict[str, Any]:
    """run.yaml's content; `forked_from` only when set, so other runs' files stay as they were."""
    data = info.model_dump(mode="json")
    if data.get("forked_from") is None:
        data.pop("forked_from", None)
    return data


def save_info(run: Run) -> None:
    write_yaml(run.path / RUN_FILE, info_data(run.info))


def write_results(run: Run, metrics: dict[str, float], replace: bool = False,
                  **extra: Any) -> Results:
    """Merge final metrics into experiment_results.json (other values stay unless replaced;
    `replace`: the metrics are exactly these).

    Read, merge and write happen under a lock on the run folder, so two `record`s of the
    same run at once both land."""
    with locked(run.path):
        current = run.results()
        data = current.model_dump() if current else {"run_id": run.id}
        data["metrics"] = {**({} if replace else data.get("metrics", {})), **metrics}
        data["recorded"] = now_iso()
        data.update(extra)
        results = Results.model_validate(data)
        write_json(run.path / RESULTS_FILE, results.model_dump())
    return results


def keep_results(run: Run) -> Path:
    """Copy experiment_results.json to results_history/experiment_results.<n>.json (the next
    free n) and return that path."""
    folder = run.path / RESULTS_HISTORY_DIR
    folder.mkdir(exist_ok=True)
    with locked(run.path):
        n = 1 + max((_number(p.name) for p in folder.glob("experiment_results.*.json")),
                    default=0)
        kept = folder / f"experiment_results.{n}.json"
        write_text_atomic(kept, (run.path / RESULTS_FILE).read_bytes())
    return kept


def keep_attempt_configs(run: Run, attempts: int) -> None:
    """Keep config.yaml as the config of attempts 1..`attempts` that have no copy yet (they
    all ran with it: config.yaml only changes through `launch --resume --set`, which keeps)."""
    text = (run.path / CONFIG_FILE).read_bytes()
    for attempt in range(1, attempts + 1):
        kept = attempt_config_path(run.path, attempt)
        if not kept.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(kept, text)


def attempt_config(run: Run, attempt: int) -> dict:
    """The config attempt `attempt` ran with: its kept copy, else (never changed since)
    config.yaml."""
    kept = attempt_config_path(run.path, attempt)
    return (read_yaml(kept) or {}) if kept.exists() else run.config()


def _number(name: str) -> int:
    part = name.split(".")[-2]
    return int(part) if part.isdigit() else 0


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

