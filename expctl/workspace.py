"""The workspace: a folder with `expctl.yaml`, `recipes/`, `runs/` and the registry.

Commands find it by walking up from the current directory; `--workspace/-C DIR` and the
`EXPCTL_WORKSPACE` environment variable override the search.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from expctl.errors import NotFoundError

SETTINGS_FILE = "expctl.yaml"
STATE_DIR = ".expctl"  # machine-local state (current run); git-ignored
LAUNCHERS = ("local", "screen", "tmux", "slurm")

DEFAULT_SETTINGS_TEXT = """\
# expctl workspace settings. Every key is optional.

# How `expctl launch` runs jobs when no --screen/--tmux/--local/--slurm flag is given.
launcher: screen

# The run every other run is compared against (leaderboard deltas, commit messages).
baseline: null

leaderboard:
  metric: null        # default metric to rank by, e.g. small_map
  columns: []         # extra columns: metric names or params (e.g. fpn.in_stages)

# Each metric's number format, used by every command: direction (higher or lower is better),
# scale (100 shows fractions as percent, their changes in pp), decimals, label, unit.
# Names ending in loss, error, rmse, mae, gap or time default to lower-is-better.
metrics:
  map: {direction: higher}
  small_map: {direction: higher}

# Where the run index lives: a SQLAlchemy URL. Default: sqlite:///<workspace>/registry.db
registry: null
"""


def _model_base():
    from pydantic import BaseModel, ConfigDict

    class Strict(BaseModel):
        model_config = ConfigDict(extra="forbid")

    return Strict


def _settings_models():
    """Built lazily: pydantic is not imported on the CLI's start-up path."""
    from pydantic import Field, field_validator

    from expctl.slurmspec import SlurmSpec

    Strict = _model_base()

    class MetricSetting(Strict):
        # A metric's one number format (see expctl.numbers), used by every command.
        direction: Literal["higher", "lower"] = "higher"
        scale: float = Field(1.0, gt=0)  # multiply for display: 100 shows fractions as percent
        decimals: int | None = Field(None, ge=0, le=12)  # default: 2 for percent, else 4
        label: str | None = None  # headers and messages (default: the metric's name)
        unit: str | None = None  # e.g. "m"; changes of percent metrics are in pp

    class LeaderboardSetting(Strict):
        metric: str | None = None
        columns: list[str] = Field(default_factory=list)

    class QueueSetting(Strict):
        gpus: list[int] | None = None  # GPU ids handed out; default: what nvidia-smi lists
        slots: int | None = Field(None, ge=1)  # without GPUs: this many queued jobs at once
        min_free_mib: int | None = Field(None, ge=0)  # skip GPUs with less free memory

        @field_validator("gpus")
        @classmethod
        def _distinct(cls, v: list[int] | None) -> list[int] | None:
            if v is not None and (not v or len(set(v)) != len(v) or min(v) < 0):
                raise ValueError("expected distinct GPU ids (0, 1, ...), at least one")
            return v

    class Settings(Strict):
        launcher: Literal["local", "screen", "tmux", "slurm"] = "screen"
        baseline: str | None = None
        leaderboard: LeaderboardSetting = Field(default_factory=LeaderboardSetting)
        metrics: dict[str, MetricSetting] = Field(default_factory=dict)
        registry: str | None = None
        slurm: SlurmSpec = Field(default_factory=SlurmSpec)  # sbatch defaults for every recipe
        queue: QueueSetting = Field(default_factory=QueueSetting)  # `launch --queue`

    return Settings, MetricSetting


LOWER_IS_BETTER_SUFFIXES = ("loss", "error", "err", "rmse", "mae", "mse", "gap", "time", "latency")


def direction_by_name(metric: str) -> str:
    """The direction a metric's name suggests: loss, error, rmse, gap... are lower-is-better."""
    return "lower" if metric.lower().endswith(LOWER_IS_BETTER_SUFFIXES) else "higher"


@dataclass
class Workspace:
    """A workspace root and its settings."""

    root: Path
    _settings: Any = field(default=None, repr=False)

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def sweeps_dir(self) -> Path:
        return self.root / "sweeps"

    @property
    def recipes_dir(self) -> Path:
        return self.root / "recipes"

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def settings_path(self) -> Path:
        return self.root / SETTINGS_FILE

    @property
    def settings(self):
        """expctl.yaml, validated (unknown keys rejected)."""
        if self._settings is None:
            from expctl.files import read_yaml, validate

            Settings, _ = _settings_models()
            data = read_yaml(self.settings_path) if self.settings_path.exists() else {}
            self._settings = validate(Settings, data, str(self.settings_path))
        return self._settings

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    # --- the current run: the one later commands act on when no id is given ---

    def current_run(self) -> str | None:
        try:
            value = (self.state_dir / "current").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return value or None

    def set_current_run(self, run_id: str) -> None:
        from expctl.files import write_text_atomic

        write_text_atomic(self.state_dir / "current", run_id + "\n")

    def clear_current_run(self) -> None:
        (self.state_dir / "current").unlink(missing_ok=True)


def find_workspace(explicit: str | Path | None = None) -> Workspace:
    """The workspace for this command: `-C DIR`, then EXPCTL_WORKSPACE, then walk up."""
    chosen = explicit or os.environ.get("EXPCTL_WORKSPACE")
    if chosen:
        root = Path(chosen).expanduser().resolve()
        if not (root / SETTINGS_FILE).is_file():
            raise NotFoundError(
                f"`{root}` is not an expctl workspace (no {SETTINGS_FILE}).",
                hint=f"run `expctl init` in {root}",
            )
        return Workspace(root)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / SETTINGS_FILE).is_file():
            return Workspace(folder)
    raise NotFoundError(
        f"No expctl workspace here: no {SETTINGS_FILE} in `{here}` or its parents.",
        hint="run `expctl init` to make this folder a workspace, or pass -C DIR",
    )


GITIGNORE_ENTRIES = (
    "registry.db",
    "registry.db-*",
    ".expctl/",
    "*.ckpt",
    "*.pt",
    "*.pth",
    "*.safetensors",
)


def init_workspace(root: Path, example_recipe: bool = False) -> tuple[Workspace, list[str]]:
    """Make `root` a workspace; returns it and the list of things created. `example_recipe`:
    write a commented example into recipes/ when it holds no recipe (`expctl init` does)."""
    root = root.resolve()
    if not root.is_dir():
        raise NotFoundError(f"Directory `{root}` does not exist.")
    created: list[str] = []
    settings = root / SETTINGS_FILE
    if not settings.exists():
        settings.write_text(DEFAULT_SETTINGS_TEXT, encoding="utf-8")
        created.append(SETTINGS_FILE)
    for name in ("recipes", "runs", STATE_DIR):
        if not (root / name).is_dir():
            (root / name).mkdir()
            created.append(name + "/")
    recipes = root / "recipes"
    if example_recipe and not any(p.suffix in (".yaml", ".yml") for p in recipes.iterdir()):
        from expctl.example_recipe import EXAMPLE_RECIPE_NAME, EXAMPLE_RECIPE_TEXT

        (recipes / f"{EXAMPLE_RECIPE_NAME}.yaml").write_text(EXAMPLE_RECIPE_TEXT, encoding="utf-8")
        created.append(f"recipes/{EXAMPLE_RECIPE_NAME}.yaml (a commented example)")
    gitignore = root / ".gitignore"
    existing = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    missing = [e for e in GITIGNORE_ENTRIES if e not in existing]
    if missing:
        prefix = "\n" if existing and existing[-1].strip() else ""
        header = "# expctl: the index and checkpoints stay local; run folders' text is committed\n"
        with gitignore.open("a", encoding="utf-8") as f:
            f.write(prefix + header + "\n".join(missing) + "\n")
        created.append(".gitignore entries: " + ", ".join(missing))
    return Workspace(root), created
