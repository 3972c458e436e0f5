"""What `record` finds about a run (RecordResult, Delta) and its write-ups: metrics_summary.txt
and evaluation_info.txt, the plain-text files researchers used to write by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expctl.metrics.criteria import Verdict
from expctl.metrics.sources import SourceReading, check_packages
from expctl.numbers import MetricFormat
from expctl.recipes import Recipe
from expctl.runs import Results, Run


@dataclass
class Delta:
    """A metric against the baseline's value."""

    baseline: float
    delta: float
    delta_pct: float | None  # relative change in percent; None when the baseline is 0

    def as_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "delta": self.delta, "delta_pct": self.delta_pct}


@dataclass
class RecordResult:
    run_id: str
    metrics: dict[str, float]  # everything in experiment_results.json now
    readings: list[SourceReading] = field(default_factory=list)
    baseline: str | None = None
    deltas: dict[str, Delta] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    kept: Path | None = None  # the previous experiment_results.json, kept by a refresh

    def check_packages(self) -> None:
        """Exit 6 with the install command when a source lacked a package (the other
        sources' metrics are already recorded)."""
        check_packages(self.readings)


def metric_rows(results: Results, record: RecordResult,
                styles: dict[str, MetricFormat]) -> list[list[str]]:
    """metric, value, baseline, change (points, relative percent, better or worse): one row
    per metric, in the metrics' one number format."""
    rows = []
    for name, value in results.metrics.items():
        style = styles[name]
        delta = record.deltas.get(name)
        if delta is None:
            rows.append([style.title, style.value(value), "", ""])
            continue
        rows.append([style.title, style.value(value), style.value(delta.baseline),
                     style.change(delta.delta, delta.delta_pct)])
    return rows


def _aligned(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in [header, *rows]]


def _criteria_lines(record: RecordResult, styles: dict[str, MetricFormat]) -> list[str]:
    if not record.verdicts:
        return ["  (no success criteria in the recipe)"]
    rows = []
    for v in record.verdicts:
        style = styles.get(v.criterion.metric) or MetricFormat(v.criterion.metric)
        rows.append([f"{v.criterion.metric} {v.criterion.text}", style.value(v.value), v.word])
    return _aligned(["criterion", "value", "verdict"], rows)


def _metrics_block(results: Results, record: RecordResult,
                   styles: dict[str, MetricFormat]) -> list[str]:
    header = ["metric", "value", f"baseline ({record.baseline})" if record.baseline else
              "baseline", "change"]
    return _aligned(header, metric_rows(results, record, styles))


def metrics_summary_text(run: Run, results: Results, record: RecordResult,
                         styles: dict[str, MetricFormat], recipe: Recipe) -> str:
    """The metrics with their change against the baseline, and the criteria verdicts."""
    baseline = (record.baseline or "none set") + (
        "" if record.deltas or not record.baseline else " (no results to compare with)")
    lines = [f"Metrics summary: {run.id}", f"Recorded: {results.recorded}",
             f"Baseline: {baseline}", "", "Metrics:"]
    lines += _metrics_block(results, record, styles)
    lines += ["", "Success criteria:"]
    lines += _criteria_lines(record, styles)
    return "\n".join(lines) + "\n"


def evaluation_info_text(run: Run, results: Results, record: RecordResult,
                         styles: dict[str, MetricFormat], recipe: Recipe) -> str:
    """Where the numbers came from: run, model, recipe, checkpoint, code, dates, sources."""
    git = run.info.git
    code = (f"{git.sha or '(no commit yet)'} on {git.branch or 'detached HEAD'}"
            + (" with uncommitted changes (git.patch)" if git.dirty else "")
            if git.available else f"no git ({git.reason})")
    extra = results.model_dump()
    phases = extra.get("phases") or {}
    lines = [
        f"Evaluation info: {run.id}",
        f"Run:          {run.id}",
        f"Model:        {recipe.model or '(recipe has no model description)'}",
        f"Recipe:       {run.info.recipe}",
        f"Hypothesis:   {run.info.hypothesis or '(see experiment_hypothesis.md)'}",
        f"Checkpoint:   {extra.get('checkpoint') or '(none gathered)'}",
        f"Code:         {code}",
        f"Created:      {run.info.created}",
    ]
    for phase in ("training", "validation"):
        times = phases.get(phase)
        if times:
            lines.append(f"{phase.capitalize() + ':':<14}{times.get('started')} to "
                         f"{times.get('ended')} (exit code {times.get('exit_code')})")
    lines.append(f"Recorded:     {results.recorded}")
    lines += ["", "Metric sources:"]
    for reading in record.readings:
        got = ", ".join(sorted(reading.values)) or "nothing"
        files = ", ".join(str(f) for f in reading.files) or reading.pattern
        lines.append(f"  {reading.kind}: {files} -> {got}")
        if reading.problem or reading.missing:
            problem = reading.problem or "missing " + ", ".join(reading.missing)
            lines.append(f"    warning: {problem}")
        lines += [f"    note: {note}" for note in reading.notes]
        lines += [f"    warning: {gap}" for gap in reading.gaps]
    lines += ["", "Metrics:"]
    lines += _metrics_block(results, record, styles)
    lines += ["", "Success criteria:"]
    lines += _criteria_lines(record, styles)
    return "\n".join(lines) + "\n"
