"""Recipes: how to run one kind of experiment, as validated YAML in `recipes/`.

A recipe names the training command (a template over its params), how to launch it, the
validation command, where artifacts appear, its metric sources and success criteria. It may
`extends:` other recipes (deep merge, the child wins). `--set key=value` overrides are parsed
as YAML scalars and type-checked against the value they replace.
"""

from __future__ import annotations

import difflib
import math
import re
import shlex
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from expctl.errors import BadInputError, NotFoundError
from expctl.files import load_yaml_text, read_yaml, validate
from expctl.flat import deep_merge, flatten, get_path, has_path, set_path
from expctl.ids import check_key, check_recipe_name, check_run_id
from expctl.slurmspec import SlurmSpec
from expctl.workspace import Workspace


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


Command = str | list[str]


class LaunchSpec(Strict):
    """How the training command is started."""

    accelerate: bool = False  # wrap the command in `accelerate launch`
    num_processes: int = Field(1, ge=1)  # processes per machine (accelerate)
    gpus: list[int] | None = None  # GPU ids; None = all visible (or CPU when there are none)
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    cpu: bool = False  # force CPU processes under accelerate (tests, laptops)
    workdir: str = "."  # working directory, relative to the workspace (or the run's tree)
    env: dict[str, str] = Field(default_factory=dict)  # extra environment variables
    launcher: Literal["local", "screen", "tmux", "slurm"] | None = None  # default: settings
    # Workspace paths (datasets, caches, pretrained weights) that appear in the run's private
    # working tree as symlinks to the workspace's own, e.g. [data, .cache].
    links: list[str] = Field(default_factory=list)

    @field_validator("links")
    @classmethod
    def _inside_workspace(cls, v: list[str]) -> list[str]:
        for item in v:
            parts = Path(item).parts
            if not parts or Path(item).is_absolute() or ".." in parts:
                raise ValueError(f"`{item}`: expected a path relative to the workspace, "
                                 "without `..`")
        return v


class ValidationSpec(Strict):
    """The validation command, run after training on the gathered checkpoint."""

    command: Command
    workdir: str | None = None  # default: launch.workdir
    env: dict[str, str] = Field(default_factory=dict)


class ArtifactSpec(Strict):
    """Files a run leaves outside (or inside) its folder, gathered after a phase."""

    glob: list[str]  # patterns with {run_id}, {run_dir}, {steps}, {workspace} and params
    # Which matches to take: all of them, the newest, the highest step in the name (step=N,
    # step_N, stepN; then epoch), or the path the log printed. Default: highest_step for the
    # artifact named `checkpoint` (it becomes checkpoints/final_model.ckpt), all otherwise.
    pick: Literal["all", "newest", "highest_step", "from_log"] | None = None
    log_regex: str | None = None  # pick=from_log: regex (group `path` or 1) over the phase's log
    dest: str | None = None  # sub-folder of the run folder; default by artifact name
    phase: Literal["train", "validate"] = "train"  # whose time window the files must fall in
    required: bool = False

    @field_validator("glob", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class MetricSpec(Strict):
    # Read only so that config.yaml of older runs still loads: recipe files may not set it
    # (see _refuse_formats); a metric's format lives in expctl.yaml (expctl.metrics.specs).
    direction: Literal["higher", "lower"] | None = None
    scale: float | None = None  # display multiplier: 100 shows fractions as percent
    label: str | None = None


class MetricSource(Strict):
    """Where named metrics are read from after a run (see expctl/metrics)."""

    kind: Literal["jsonl", "tensorboard", "json", "regex", "coco", "lightning"]
    path: str  # file or glob, relative to the run folder unless absolute; placeholders allowed
    # metric name -> field/tag/key/regex; for coco and lightning: -> the preset's name for it
    # (empty: every metric the preset finds, under its own name)
    metrics: dict[str, str] = Field(default_factory=dict)
    reduce: Literal["last", "best", "min", "max"] = "last"  # jsonl/tensorboard series
    by: str | None = None  # jsonl: pick one record by this metric, read all metrics from it
    # coco: metric name -> class ids whose AP is averaged (the ids printed in the per-class
    # block headers; without them, the blocks' print order from 0)
    groups: dict[str, list[int]] = Field(default_factory=dict)
    # coco: a group with ids missing from the output is left unmeasured (skip) or is the mean
    # of the classes present (mean_present); either way the missing ids are named
    missing: Literal["skip", "mean_present"] = "skip"


class MetricsSpec(Strict):
    primary: str | None = None  # ranks runs; shown first in commits
    small: str | None = None  # the small-object metric of commit messages, if any
    sources: list[MetricSource] = Field(default_factory=list)
    specs: dict[str, MetricSpec] = Field(default_factory=dict)


class Recipe(Strict):
    """One recipe file, or several merged through `extends`."""

    description: str = ""
    model: str = ""  # the architecture in words, for write-ups and commit messages
    extends: str | list[str] | None = None
    command: Command | None = None
    resume_args: list[str] = Field(default_factory=list)  # appended by `launch --resume`
    steps_param: str | None = None  # dotted params key set by run ids like name_100k
    params: dict[str, Any] = Field(default_factory=dict)
    launch: LaunchSpec = Field(default_factory=LaunchSpec)
    validation: ValidationSpec | None = Field(None, alias="validate")
    artifacts: dict[str, ArtifactSpec] = Field(default_factory=dict)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    criteria: dict[str, str] = Field(default_factory=dict)  # metric -> ">= 0.20", "< 2.2"
    slurm: SlurmSpec = Field(default_factory=SlurmSpec)  # sbatch settings (launchers/slurm)
    # tree: every job runs in the run's own checkout of the code recorded at `new`
    # (expctl/worktree.py); none: jobs share the workspace, and gather and record report
    # files another run may have written.
    isolation: Literal["tree", "none"] = "tree"

    def steps(self) -> int | None:
        """The planned number of steps, when the recipe says which param holds it."""
        if not self.steps_param:
            return None
        value = get_path(self.params, self.steps_param, None)
        return value if isinstance(value, int) else None


# --- loading ---------------------------------------------------------------------------------


def recipe_path(ws: Workspace, name: str) -> Path:
    check_recipe_name(name)
    for suffix in (".yaml", ".yml"):
        path = ws.recipes_dir / f"{name}{suffix}"
        if path.is_file():
            return path
    known = recipe_names(ws)
    hint = f"known recipes: {', '.join(known)}" if known else f"add {name}.yaml to {ws.recipes_dir}"
    close = difflib.get_close_matches(name, known, n=3)
    if close:
        hint = f"did you mean {', '.join(close)}?"
    raise NotFoundError(f"No recipe `{name}`.", hint=hint)


def recipe_names(ws: Workspace) -> list[str]:
    if not ws.recipes_dir.is_dir():
        return []
    return sorted(p.stem for p in ws.recipes_dir.iterdir() if p.suffix in (".yaml", ".yml"))


def load_raw(ws: Workspace, name: str, _chain: tuple[str, ...] = ()) -> dict:
    """The recipe as a dict with its `extends` chain merged in (not yet overridden)."""
    if name in _chain:
        raise BadInputError(f"Recipe `{name}` extends itself: {' -> '.join(_chain + (name,))}.")
    path = recipe_path(ws, name)
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise BadInputError(f"{path}: a recipe must be a mapping of keys, not {kind}.")
    validate(Recipe, data, str(path))  # each file on its own, so errors name the right file
    _refuse_formats(data, path)
    parents = data.get("extends") or []
    merged: dict = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = deep_merge(merged, load_raw(ws, parent, _chain + (name,)))
    merged = deep_merge(merged, {k: v for k, v in data.items() if k != "extends"})
    return merged


def _refuse_formats(data: dict, where: object) -> None:
    """Metric formats are set once per workspace (expctl.yaml `metrics:`), never per recipe:
    per recipe, the leaderboard and a run's own record would show one metric two ways."""
    specs = (data.get("metrics") or {}).get("specs") or {}
    if specs:
        name, spec = next(iter(specs.items()))
        fields = ", ".join(f"{k}: {v}" for k, v in (spec or {}).items())
        raise BadInputError(
            f"{where}: metrics.specs is not read any more; a metric's format and direction are "
            "set once, in expctl.yaml.",
            hint=f"move it there: `metrics: {{{name}: {{{fields}}}}}`")


def load_recipe(ws: Workspace, name: str, overrides: list[str] = ()) -> tuple[Recipe, dict]:
    """The resolved recipe and its plain dict (what config.yaml stores)."""
    raw = load_raw(ws, name)
    for override in overrides:
        apply_override(raw, override)
    recipe = validate(Recipe, raw, f"recipe {name}")
    _refuse_formats(raw, f"recipe {name}")
    return recipe, recipe_to_dict(recipe)


def recipe_to_dict(recipe: Recipe) -> dict:
    return recipe.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"extends"})


def list_recipes(ws: Workspace) -> list[tuple[str, str]]:
    """(name, description) of every recipe; a broken file shows its error as description."""
    rows = []
    for name in recipe_names(ws):
        try:
            rows.append((name, Recipe.model_validate(load_raw(ws, name)).description))
        except Exception as exc:  # noqa: BLE001 - listed, not fatal
            rows.append((name, f"(invalid: {getattr(exc, 'message', exc)})"))
    return rows


# --- overrides -------------------------------------------------------------------------------

_TOP_LEVEL = set(Recipe.model_fields) | {"validate"}
# Sections whose keys --set may address directly (launch.num_processes, +launch.env.X).
_SECTIONS = {"launch", "validate", "validation", "artifacts", "metrics", "criteria", "slurm"}


def apply_override(raw: dict, text: str) -> None:
    """Apply `key.path=value` (must exist) or `+key.path=value` (adds) to raw recipe data.

    Keys address `params` first; a key naming a recipe section (`launch.num_processes`)
    addresses the recipe itself."""
    key, sep, value_text = text.partition("=")
    if not sep:
        raise BadInputError(f"Override `{text}` has no `=`.", hint="write key.path=value")
    adding = key.startswith("+")
    key = check_key(key.lstrip("+"), "override key")
    if key == "extends" or key.startswith("extends."):
        raise BadInputError(f"--set {text}: `extends` cannot be overridden (the recipe's parent "
                            "is merged before overrides apply).",
                            hint="use another recipe with `--recipe NAME`, or edit its extends:")
    value = _parse_scalar(value_text)
    params = raw.setdefault("params", {})
    head = key.split(".")[0]
    if key.startswith("params."):
        key = key[7:]
    if has_path(params, key):
        target, path = params, key
    elif head in _SECTIONS or (head in _TOP_LEVEL and not adding and head != "params"):
        target, path = raw, key
        if adding:
            set_path(raw, key, value)  # e.g. +launch.env.NCCL_DEBUG=INFO
            return
    elif adding:
        _check_addable(params, key)
        set_path(params, key, value)
        return
    else:
        known = list(flatten(params))
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
        shown = close or known[:8]
        hint = ("closest keys: " if close else "known keys: ") + ", ".join(shown)
        raise BadInputError(
            f"Unknown key `{key}` in --set {text}.",
            hint=hint + f"; write +{key}=... to add a new key",
        )
    if adding:
        raise BadInputError(f"Key `{key}` already exists; drop the `+` to change it.")
    current = get_path(target, path, None)
    set_path(target, path, _checked(key, value, value_text, current))


_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")


def _parse_scalar(text: str) -> Any:
    """A value as YAML reads it, except that `1e-4` is a number (YAML 1.1 wants `1.0e-4`)."""
    if _FLOAT.fullmatch(text.strip()):
        value: Any = float(text)
    else:
        try:
            value = load_yaml_text(text, f"--set value `{text[:40]}`") if text.strip() else ""
        except yaml.YAMLError:
            return text
    if isinstance(value, float) and not math.isfinite(value):
        raise BadInputError(f"`{text}` is not a finite number.",
                            hint="params hold finite numbers; write a string as '\"inf\"'")
    return value


def _check_addable(params: dict, key: str) -> None:
    """`+a.b.c` may create mappings under `a`, never replace a value that is not one."""
    parts = key.split(".")
    for depth in range(1, len(parts)):
        prefix = ".".join(parts[:depth])
        existing = get_path(params, prefix, None)
        if existing is not None and not isinstance(existing, dict):
            raise BadInputError(
                f"Cannot add `{key}`: `{prefix}` is already {existing!r}, not a mapping.",
            )


def _checked(key: str, value: Any, text: str, current: Any) -> Any:
    """`value` if it fits the type of `current` (ints widen to float; any scalar to str)."""
    if current is None:
        return value
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(current, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(current, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(current, str):
        # A YAML string loses its quotes ('3' is 3); anything else stays as typed ("007").
        return value if isinstance(value, str) else text
    elif isinstance(current, list):
        if isinstance(value, list):
            return value
    elif isinstance(current, dict):
        if isinstance(value, dict):
            return value
    expected = type(current).__name__
    raise BadInputError(
        f"--set {key}={text}: expected {_TYPE_WORDS.get(expected, expected)} "
        f"like the current value `{current!r}`, got `{text}`.",
    )


_TYPE_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false",
               "list": "a list like [1, 2]", "dict": "a mapping like {a: 1}"}


# --- run ids {recipe}_{steps} ----------------------------------------------------------------

_STEPS = re.compile(r"(\d+)([kKmM]?)")


def parse_steps(text: str) -> int | None:
    """'100k' -> 100000, '2m' -> 2000000, '500' -> 500; None if not a step count."""
    match = _STEPS.fullmatch(text)
    if not match:
        return None
    number, unit = int(match.group(1)), match.group(2).lower()
    return number * {"": 1, "k": 1_000, "m": 1_000_000}[unit]


def recipe_for_run_id(ws: Workspace, run_id: str) -> tuple[str, int | None]:
    """The recipe a run id names (longest matching prefix) and the steps its suffix sets."""
    check_run_id(run_id)
    names = recipe_names(ws)
    if run_id in names:
        return run_id, None
    for name in sorted(names, key=len, reverse=True):
        if run_id.startswith(name + "_"):
            steps = parse_steps(run_id[len(name) + 1 :])
            if steps is not None:
                return name, steps
    raise NotFoundError(
        f"No recipe matches run id `{run_id}`.",
        hint="pass --recipe NAME, or name the run {recipe} or {recipe}_{steps} (e.g. "
        + (f"{names[0]}_10k); recipes: {', '.join(names)}" if names else "baseline_10k)"),
    )


def steps_override(recipe_name: str, recipe: dict, steps: int) -> str:
    """The --set that applies a run id's step suffix."""
    param = recipe.get("steps_param")
    if not param:
        raise BadInputError(
            f"Recipe `{recipe_name}` has no steps_param, so a run id cannot set its steps.",
            hint=f"add `steps_param: <dotted params key>` to recipes/{recipe_name}.yaml",
        )
    if not has_path(recipe.get("params") or {}, param):
        raise BadInputError(
            f"Recipe `{recipe_name}` names steps_param `{param}`, which is not in its params.",
            hint=f"add {param} to params in recipes/{recipe_name}.yaml, or fix steps_param",
        )
    return f"{param}={steps}"


# --- command templates -----------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


def render_value(value: Any) -> str:
    """A param value as one argv item: strings as is, everything else as YAML flow."""
    if isinstance(value, str):
        return value
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return text.removesuffix("...").strip()  # scalars are dumped as documents ending in ...


def render_command(template: Command, params: dict, context: dict[str, Any]) -> list[str]:
    """An argv list from a command template. Never passes through a shell.

    A string template is split like a shell would (quotes respected) *before* substitution,
    so a value with spaces or `;` stays one argument. `{overrides}` alone as an item expands
    to `key=value` for every param; `{a.b}` is a param, `{run_id}` etc. come from `context`;
    `{{` and `}}` are literal braces."""
    items = shlex.split(template) if isinstance(template, str) else list(template)
    flat = flatten(params)
    argv: list[str] = []
    for item in items:
        if item == "{overrides}":
            argv.extend(f"{k}={render_value(v)}" for k, v in flat.items())
            continue
        argv.append(_substitute(item, flat, context))
    return argv


def _substitute(item: str, flat: dict, context: dict[str, Any]) -> str:
    def lookup(match: re.Match) -> str:
        name = match.group(1)
        if name in context:
            return render_value(context[name])
        if name in flat:
            return render_value(flat[name])
        if name.startswith("params.") and name[7:] in flat:
            return render_value(flat[name[7:]])
        known = sorted(set(context) | set(flat))
        close = difflib.get_close_matches(name, known, n=3)
        raise BadInputError(
            f"Unknown placeholder `{{{name}}}` in command item `{item}`.",
            hint=f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known)}",
        )

    escaped = item.replace("{{", "\0").replace("}}", "\1")
    return _PLACEHOLDER.sub(lookup, escaped).replace("\0", "{").replace("\1", "}")
