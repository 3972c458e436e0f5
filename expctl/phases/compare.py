"""Compare two runs: what differs in their configs, how their metrics differ (and which way
is better), and what changed in the code between their commits."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Any

from expctl.errors import ExpctlError
from expctl.flat import flatten
from expctl.metrics.specs import MetricStyle, metric_style
from expctl.runs import Run, load_run
from expctl.workspace import Workspace

_ABSENT = "(absent)"


@dataclass
class ConfigDiff:
    key: str
    a: Any
    b: Any


@dataclass
class MetricDiff:
    name: str
    a: float | None
    b: float | None
    style: MetricStyle

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def b_better(self) -> bool | None:
        """True when B is better than A, False when worse, None when equal or unknown."""
        return None if self.delta is None else self.style.better(self.delta)


@dataclass
class Comparison:
    a: str
    b: str
    config: list[ConfigDiff] = field(default_factory=list)
    metrics: list[MetricDiff] = field(default_factory=list)
    git_stat: str | None = None  # `git diff --stat A B`, run folders left out
    git_note: str | None = None  # why there is no stat, or what it leaves out

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.a, "b": self.b,
            "config": [{"key": d.key, "a": d.a, "b": d.b} for d in self.config],
            "metrics": [{"metric": m.name, "a": m.a, "b": m.b, "delta": m.delta,
                         "direction": m.style.direction, "b_better": m.b_better}
                        for m in self.metrics],
            "git_diff_stat": self.git_stat, "git_note": self.git_note,
        }


def compare_runs(ws: Workspace, a_id: str, b_id: str) -> Comparison:
    """Compare run A with run B (deltas are B - A)."""
    a, b = load_run(ws, a_id), load_run(ws, b_id)
    result = Comparison(a.id, b.id, config_diff(a, b), metric_diff(ws, a, b))
    result.git_stat, result.git_note = git_diff_stat(ws, a, b)
    return result


def config_diff(a: Run, b: Run) -> list[ConfigDiff]:
    """Flattened config keys whose values differ (a key only one run has included)."""
    flat_a, flat_b = flatten(a.config()), flatten(b.config())
    keys = sorted(set(flat_a) | set(flat_b))
    return [ConfigDiff(k, flat_a.get(k, _ABSENT), flat_b.get(k, _ABSENT)) for k in keys
            if flat_a.get(k, _ABSENT) != flat_b.get(k, _ABSENT)]


def metric_diff(ws: Workspace, a: Run, b: Run) -> list[MetricDiff]:
    """Every metric either run has, A's order first; styles from B's recipe when it has one."""
    from expctl.metrics.context import run_recipe

    metrics_a, metrics_b = a.metrics(), b.metrics()
    try:
        recipe = run_recipe(b)
    except ExpctlError:  # an imported run's config may not be a recipe; names still work
        recipe = None
    names = list(dict.fromkeys([*metrics_a, *metrics_b]))
    return [MetricDiff(n, metrics_a.get(n), metrics_b.get(n), metric_style(ws, recipe, n))
            for n in names]


def git_diff_stat(ws: Workspace, a: Run, b: Run) -> tuple[str | None, str | None]:
    """`git diff --stat` between the runs' commits, or why there is none."""
    sha_a, sha_b = a.info.git.sha, b.info.git.sha
    if not sha_a or not sha_b:
        return None, "a run has no git commit recorded"
    dirty = [r.id for r in (a, b) if r.info.git.dirty]
    note = (f"uncommitted changes of {', '.join(dirty)} are in their git.patch, not in this stat"
            if dirty else None)
    if sha_a == sha_b:
        return "", "same commit" + (f"; {note}" if note else "")
    # The whole repository but the run folders: the code, not the results committed since.
    pathspec = [":(top)", f":(exclude){ws.runs_dir.relative_to(ws.root).as_posix()}"]
    try:
        result = subprocess.run(["git", "-C", str(ws.root), "diff", "--stat", sha_a, sha_b,
                                 "--", *pathspec], capture_output=True, text=True)
    except FileNotFoundError:
        return None, "git is not installed"
    if result.returncode != 0:
        return None, f"git cannot compare {sha_a[:10]} and {sha_b[:10]} in this repository"
    stat = result.stdout.rstrip("\n")
    if not stat:
        note = "no code changes between the commits (run folders left out)" + (
            f"; {note}" if note else "")
    return stat, note
