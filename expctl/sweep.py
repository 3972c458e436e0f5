"""Sweeps: the cartesian product of `--set key=v1,v2,v3` values (or `range(start, stop,
step)`), one normal run per combination, ids from a template over the params, all tagged with
the sweep's id in run.yaml. Everything is planned and checked before the first run is made.

    sweeps/<sweep id>/sweep.yaml   what was swept: target, recipe, template, axes, run ids
    sweeps/<sweep id>/tasks.txt    one run folder per line (Slurm job arrays: task i = line i)
"""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from expctl.errors import BadInputError, ConflictError, NotFoundError
from expctl.ids import check_key, check_run_id
from expctl.workspace import Workspace

SWEEP_FILE = "sweep.yaml"
TASKS_FILE = "tasks.txt"
MAX_RUNS = 10_000  # a typo in a range should not make a million folders
_RANGE = re.compile(r"range\((.*)\)")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


@dataclass
class Axis:
    key: str  # as typed in --set (a params key, or a recipe section's such as launch.gpus)
    texts: list[str]  # each value as it goes into `--set key=text`


@dataclass
class PlannedRun:
    run_id: str
    overrides: list[str]  # --set items for `new`
    values: dict[str, Any]  # swept key -> the value the run gets (as config.yaml holds it)
    config: dict = field(default_factory=dict, repr=False)  # its resolved recipe


@dataclass
class SweepPlan:
    sweep_id: str
    target: str  # the RECIPE_OR_ID given
    recipe: str
    template: str
    axes: list[Axis]
    runs: list[PlannedRun] = field(default_factory=list)


def split_values(text: str) -> list[str]:
    """`1,2,3` -> ['1', '2', '3']; commas inside [], {} or quotes stay: `[1,2],[3]`."""
    parts, depth, quote, current = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    parts.append(current)
    return [p.strip() for p in parts]


def range_values(text: str) -> list[str] | None:
    """`range(0, 10, 2)` -> ['0', '2', ...] (stop excluded, like Python's; floats allowed);
    None when `text` is not a range."""
    match = _RANGE.fullmatch(text.strip())
    if not match:
        return None
    try:
        numbers = [float(x) if any(c in x for c in ".eE") else int(x)
                   for x in (p.strip() for p in match.group(1).split(","))]
    except ValueError:
        raise BadInputError(f"`{text}`: a range takes numbers: range(start, stop[, step]).")\
            from None
    if not 1 <= len(numbers) <= 3:
        raise BadInputError(f"`{text}`: write range(stop), range(start, stop) or "
                            "range(start, stop, step).")
    start, stop, step = ([0, *numbers, 1][:3] if len(numbers) == 1 else
                         [*numbers, 1][:3])
    if step == 0:
        raise BadInputError(f"`{text}`: the step of a range cannot be 0.")
    count = max(0, int(-(-(stop - start) // step)))
    if count > MAX_RUNS:
        raise BadInputError(f"`{text}` has {count} values; at most {MAX_RUNS}.")
    if all(isinstance(n, int) for n in (start, stop, step)):
        return [str(start + i * step) for i in range(count)]
    # start + i*step, not repeated addition: 0.1 + 0.1 + 0.1 is not 0.3
    return [repr(round(start + i * step, 12)) for i in range(count)]


def parse_axis(setting: str) -> Axis:
    """One `--set key=v1,v2` (or `key=range(...)`) of a sweep."""
    key, sep, values = setting.partition("=")
    if not sep:
        raise BadInputError(f"--set `{setting}` has no `=`.", hint="write key=v1,v2,v3")
    key = key.strip()
    check_key(key.lstrip("+"), "--set key")
    texts = range_values(values) or split_values(values)
    if not texts or any(t == "" for t in texts):
        raise BadInputError(f"--set `{setting}`: an empty value.",
                            hint="write key=v1,v2,v3 (no empty items)")
    if len(set(texts)) != len(texts):
        raise BadInputError(f"--set `{setting}` lists a value twice.")
    return Axis(key, texts)


def plan_sweep(ws: Workspace, target: str, settings: Sequence[str], template: str | None = None,
               sweep_id: str | None = None) -> SweepPlan:
    """Every run of the sweep with its id, overrides and values, all checked: types (as
    `new --set` checks them), ids (safe, unique within the sweep, not taken). Creates nothing.
    A --set with one value applies to every run and stays out of the default id."""
    from expctl.flat import get_path
    from expctl.recipes import (
        load_raw,
        load_recipe,
        parse_steps,
        recipe_for_run_id,
        recipe_names,
        steps_override,
    )

    check_run_id(target, "recipe or run id")
    recipe, steps = (target, None) if target in recipe_names(ws) else recipe_for_run_id(ws, target)
    raw = load_raw(ws, recipe)
    base = [steps_override(recipe, raw, steps)] if steps is not None else []
    axes = [parse_axis(s) for s in settings]
    if not axes:
        raise BadInputError("A sweep needs at least one --set key=v1,v2,...")
    keys = [a.key.lstrip("+") for a in axes]
    if len(set(keys)) != len(keys):
        raise BadInputError("A key is swept twice; give each key one --set.")
    total = 1
    for axis in axes:
        total *= len(axis.texts)
    if total > MAX_RUNS:
        raise BadInputError(f"The sweep would make {total} runs; at most {MAX_RUNS}.")
    sweep_id = check_run_id(sweep_id or default_sweep_id(target), "sweep id")
    if (ws.sweeps_dir / sweep_id).exists():
        raise ConflictError(f"Sweep `{sweep_id}` already exists.", hint="pick another --id")
    varied = [k for a, k in zip(axes, keys, strict=True) if len(a.texts) > 1]
    template = template or default_template(varied or keys)
    plan = SweepPlan(sweep_id, target, recipe, template, axes)
    seen: dict[str, dict] = {}
    for combo in itertools.product(*(a.texts for a in axes)):
        overrides = [*base, *(f"{a.key}={t}" for a, t in zip(axes, combo, strict=True))]
        recipe_obj, config = load_recipe(ws, recipe, overrides)  # the type checks of --set
        values = {k: _swept_value(config, k, get_path) for k in keys}
        run_id = render_id(template, values, recipe, target, recipe_obj.steps(), sweep_id)
        if run_id in seen:
            raise BadInputError(
                f"The id template `{template}` gives `{run_id}` for two runs "
                f"({_describe(seen[run_id])} and {_describe(values)}).",
                hint="put every swept key in --name, e.g. " + default_template(varied or keys))
        seen[run_id] = values
        implied = parse_steps(run_id[len(recipe) + 1:]) if run_id.startswith(recipe + "_") \
            else None
        if implied is not None:  # `new` would read the suffix as steps: it must agree
            steps_override(recipe, raw, implied)
            if implied != recipe_obj.steps():
                raise BadInputError(f"Run id `{run_id}` reads as {implied} steps, but the run "
                                    f"has {recipe_obj.steps()}.",
                                    hint="change --name so the id does not end in _<number>")
        plan.runs.append(PlannedRun(run_id, overrides, values, config))
    taken = [r.run_id for r in plan.runs if (ws.runs_dir / r.run_id).exists()]
    if taken:
        shown = ", ".join(taken[:5]) + (f" and {len(taken) - 5} more" if len(taken) > 5 else "")
        raise ConflictError(f"Run ids already taken: {shown}; nothing was created.",
                            hint="change --name, e.g. add {sweep} or another prefix")
    return plan


def _swept_value(config: dict, key: str, get_path) -> Any:
    key = key.removeprefix("params.")
    params = config.get("params") or {}
    value = get_path(params, key, None)
    return value if value is not None else get_path(config, key, None)


def _describe(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def default_sweep_id(target: str) -> str:
    return f"{target}-sweep-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def default_template(keys: Sequence[str]) -> str:
    """`{base}_lr{train.lr}_bs{train.batch_size}`: the last part of each key, then its value."""
    return "{base}" + "".join(f"_{k.split('.')[-1]}{{{k}}}" for k in keys)


def id_text(value: Any) -> str:
    """A value as it reads in a run id: 0.05, 100k steps as 100000, [2, 3, 4] as 2-3-4."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}" if abs(value) >= 1e-4 or value == 0 else repr(value)
    if isinstance(value, (list, tuple)):
        return "-".join(id_text(v) for v in value)
    if isinstance(value, dict):
        return "-".join(f"{k}{id_text(v)}" for k, v in value.items())
    return str(value)


def render_id(template: str, values: dict[str, Any], recipe: str, base: str,
              steps: int | None, sweep_id: str) -> str:
    """The run id from `--name`: `{recipe}`, `{base}` (the RECIPE_OR_ID given), `{steps}`
    (100k style), `{sweep}`, and each swept key by its dotted name or its last part."""
    from expctl.launchers.status import short_count

    short = {}
    for key, value in values.items():
        short.setdefault(key.removeprefix("params.").split(".")[-1], []).append(value)
    context = {"recipe": recipe, "base": base, "sweep": sweep_id,
               "steps": short_count(steps) if steps is not None else ""}

    def lookup(match: re.Match) -> str:
        name = match.group(1)
        if name in context:
            return context[name]
        for key in (name, "params." + name):
            if key in values:
                return id_text(values[key])
        if name.startswith("params.") and name[7:] in values:
            return id_text(values[name[7:]])
        if len(short.get(name, [])) == 1:
            return id_text(short[name][0])
        known = ", ".join(["recipe", "base", "steps", "sweep", *values])
        raise BadInputError(f"--name `{template}`: unknown placeholder `{{{name}}}`.",
                            hint=f"use {known}")

    run_id = _PLACEHOLDER.sub(lookup, template)
    try:
        return check_run_id(run_id)
    except BadInputError as exc:
        raise BadInputError(f"--name `{template}` gives the unsafe run id `{run_id}`: "
                            f"{exc.message}", hint=exc.hint) from None


def write_sweep_files(ws: Workspace, plan: SweepPlan, run_paths: Sequence[Path]) -> None:
    """sweeps/<id>/sweep.yaml and tasks.txt, once every run of the plan has been made."""
    from expctl.files import write_text_atomic, write_yaml
    from expctl.rundir import now_iso

    folder = ws.sweeps_dir / plan.sweep_id
    folder.mkdir(parents=True)
    write_text_atomic(folder / TASKS_FILE, "".join(f"{p}\n" for p in run_paths))
    write_yaml(folder / SWEEP_FILE, {
        "id": plan.sweep_id, "created": now_iso(), "target": plan.target,
        "recipe": plan.recipe, "template": plan.template,
        "axes": {a.key.lstrip("+"): a.texts for a in plan.axes},
        "runs": [r.run_id for r in plan.runs],
    })


def discard(ws: Workspace, plan: SweepPlan, run_paths: Sequence[Path]) -> None:
    """Undo a sweep whose making failed half-way: the run folders made moments ago (nothing
    ran in them) and its sweep folder."""
    for path in run_paths:
        shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(ws.sweeps_dir / plan.sweep_id, ignore_errors=True)


def read_sweep(ws: Workspace, sweep_id: str) -> dict:
    """sweeps/<id>/sweep.yaml."""
    from expctl.files import read_yaml

    check_run_id(sweep_id, "sweep id")
    path = ws.sweeps_dir / sweep_id / SWEEP_FILE
    if not path.is_file():
        known = sorted(p.name for p in ws.sweeps_dir.iterdir()) if ws.sweeps_dir.is_dir() else []
        raise NotFoundError(f"No sweep `{sweep_id}`.",
                            hint=f"known sweeps: {', '.join(known)}" if known else
                            "make one with `expctl sweep`")
    data = read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise BadInputError(f"{path}: not a sweep file (no `runs` list).")
    return data


def tasks_file(ws: Workspace, sweep_id: str) -> Path:
    return ws.sweeps_dir / sweep_id / TASKS_FILE
