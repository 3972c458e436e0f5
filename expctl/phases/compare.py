"""Compare runs: what differs in their configs, how their metrics differ (and which way
is better), and what changed in the code between their commits."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Any

from expctl.flat import flatten
from expctl.metrics.specs import metric_format
from expctl.numbers import MetricFormat, relative_change
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
    style: MetricFormat

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def delta_pct(self) -> float | None:
        """B's change relative to A, in percent (None without both, or when A is 0)."""
        return None if self.a is None or self.b is None else relative_change(self.b, self.a)

    def change(self) -> str:
        """`+1.70 pp (+4.4%, better)`: B against A in the metric's number format."""
        return "" if self.delta is None else self.style.change(self.delta, self.delta_pct)

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
                         "delta_pct": m.delta_pct, "direction": m.style.direction,
                         "b_better": m.b_better} for m in self.metrics],
            "formats": {m.name: m.style.as_dict() for m in self.metrics},
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
    """Every metric either run has, A's order first, each in its number format."""
    metrics_a, metrics_b = a.metrics(), b.metrics()
    names = list(dict.fromkeys([*metrics_a, *metrics_b]))
    return [MetricDiff(n, metrics_a.get(n), metrics_b.get(n), metric_format(ws, n))
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


# --- more than two runs ------------------------------------------------------------------------


@dataclass
class KeyValues:
    """A config key whose value is not the same in every run."""

    key: str
    values: dict[str, Any]  # run id -> value ("(absent)" where the run has no such key)


@dataclass
class MetricValues:
    """A metric across runs, with each run's change against the reference run."""

    name: str
    values: dict[str, float | None]
    style: MetricFormat
    reference: str

    def delta(self, run_id: str) -> float | None:
        base, value = self.values.get(self.reference), self.values.get(run_id)
        return None if base is None or value is None else value - base

    def delta_pct(self, run_id: str) -> float | None:
        """The run's change relative to the reference's value, in percent."""
        base, value = self.values.get(self.reference), self.values.get(run_id)
        return None if base is None or value is None else relative_change(value, base)

    def change(self, run_id: str) -> str:
        """`+1.69 pp (+4.4%, better)` against the reference, in the metric's number format."""
        delta = self.delta(run_id)
        return "" if delta is None else self.style.change(delta, self.delta_pct(run_id))

    def better(self, run_id: str) -> bool | None:
        delta = self.delta(run_id)
        return None if delta is None else self.style.better(delta)


@dataclass
class CodeChange:
    run_id: str  # compared with the reference run
    stat: str | None
    note: str | None


@dataclass
class ManyComparison:
    runs: list[str]  # the reference first
    reference: str
    config: list[KeyValues] = field(default_factory=list)
    metrics: list[MetricValues] = field(default_factory=list)
    git: list[CodeChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        others = [r for r in self.runs if r != self.reference]
        return {
            "runs": self.runs, "reference": self.reference,
            "config": [{"key": c.key, "values": c.values} for c in self.config],
            "metrics": [{"metric": m.name, "direction": m.style.direction, "values": m.values,
                         "deltas": {r: m.delta(r) for r in others},
                         "deltas_pct": {r: m.delta_pct(r) for r in others},
                         "better": {r: m.better(r) for r in others}} for m in self.metrics],
            "git": [{"run": g.run_id, "git_diff_stat": g.stat, "git_note": g.note}
                    for g in self.git],
            "formats": {m.name: m.style.as_dict() for m in self.metrics},
        }


def compare_many(ws: Workspace, run_ids: list[str], reference: str | None = None
                 ) -> ManyComparison:
    """Compare runs with a reference run (default: the first; one named that is not among
    them is added first). Changes are each run's value minus the reference's."""
    ids = list(dict.fromkeys(run_ids))
    reference = reference or ids[0]
    if reference in ids:
        ids.remove(reference)
    ids.insert(0, reference)
    runs = [load_run(ws, i) for i in ids]
    flats = {r.id: flatten(r.config()) for r in runs}
    keys = sorted(set().union(*flats.values()))
    config = []
    for key in keys:
        values = {r: flat.get(key, _ABSENT) for r, flat in flats.items()}
        if any(v != values[reference] for v in values.values()):
            config.append(KeyValues(key, values))
    all_metrics = {r.id: r.metrics() for r in runs}
    names = list(dict.fromkeys(n for m in all_metrics.values() for n in m))
    metrics = [MetricValues(n, {r: m.get(n) for r, m in all_metrics.items()},
                         metric_format(ws, n), reference) for n in names]
    git = [CodeChange(r.id, *git_diff_stat(ws, runs[0], r)) for r in runs[1:]]
    return ManyComparison(ids, reference, config, metrics, git)
