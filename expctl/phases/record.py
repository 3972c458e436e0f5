"""Record: read every metric source of a run and write its results.

experiment_results.json gets the metrics, the deltas against the workspace's baseline run
(when it has results), the verdicts of the recipe's success criteria and where each number
came from; validation_results/ gets the human-readable metrics_summary.txt and
evaluation_info.txt the researcher used to write by hand. Then the registry is updated.
"""

from __future__ import annotations

from typing import Any

from expctl.errors import NotFoundError
from expctl.files import write_text_atomic
from expctl.metrics.criteria import judge, parse_criteria
from expctl.metrics.sources import SourceReading, read_sources
from expctl.metrics.specs import metric_style
from expctl.rundir import (
    FINAL_CHECKPOINT,
    INFO_FILE,
    LAUNCH_FILE,
    SUMMARY_FILE,
    read_validation_record,
)
from expctl.runs import Results, Run, load_run, write_results
from expctl.state import run_status
from expctl.summaries import Delta, RecordResult, evaluation_info_text, metrics_summary_text
from expctl.workspace import Workspace


def record_from_sources(ws: Workspace, run: Run) -> dict[str, float]:
    """Read the recipe's metric sources into experiment_results.json; returns the metrics.
    (The contract `expctl record RUN` uses; record_run also returns warnings and verdicts.)"""
    return record_run(ws, run).metrics


def record_run(ws: Workspace, run: Run) -> RecordResult:
    """See the module docstring. A source that finds nothing is a warning while another
    source gave metrics, and an error when none did."""
    from expctl.metrics.context import run_context, run_recipe

    recipe = run_recipe(run)
    criteria = parse_criteria(recipe.criteria)  # a malformed criterion fails before writing

    def direction(name: str) -> str:
        return metric_style(ws, recipe, name).direction

    if not recipe.metrics.sources:
        raise NotFoundError(
            f"Recipe `{run.info.recipe}` of run `{run.id}` declares no metric sources.",
            hint=f"add metrics.sources to the recipe, or give values: `expctl record {run.id} "
            "name=value`",
        )
    readings = read_sources(recipe, run_context(ws, run, recipe), run.path, direction)
    found: dict[str, float] = {}
    for reading in readings:
        found.update(reading.values)
    warnings = [_describe(r) for r in readings if r.problem or r.missing]
    if not found:
        raise NotFoundError(
            f"No metric source of run `{run.id}` gave any metric: " + "; ".join(warnings) + ".",
            hint="check metrics.sources in the recipe against the files in the run folder",
        )
    baseline_id, baseline_metrics = _baseline(ws, run)
    current = run.metrics()
    merged = {**current, **found}
    deltas = {name: _delta(value, baseline_metrics[name]) for name, value in merged.items()
              if name in baseline_metrics}
    verdicts = judge(criteria, merged)
    extra = {
        "recipe": run.info.recipe,
        "model": recipe.model or None,
        "checkpoint": _checkpoint(run),
        "git_sha": run.info.git.sha,
        "baseline": baseline_id,
        "deltas": {k: d.as_dict() for k, d in deltas.items()},
        "criteria": {v.criterion.metric: v.as_dict() for v in verdicts},
        "sources": [{"kind": r.kind, "path": r.pattern, "files": [str(f) for f in r.files],
                     "metrics": sorted(r.values)} for r in readings],
        "phases": _phase_times(run),
    }
    results = write_results(run, found, **extra)
    result = RecordResult(run.id, dict(results.metrics), readings, baseline_id, deltas,
                          verdicts, warnings)
    styles = {name: metric_style(ws, recipe, name) for name in results.metrics}
    summary = run.path / SUMMARY_FILE
    info = run.path / INFO_FILE
    write_text_atomic(summary, metrics_summary_text(run, results, result, styles, recipe))
    write_text_atomic(info, evaluation_info_text(run, results, result, styles, recipe))
    result.files = [summary, info]
    _index(ws, run.id)
    return result


def _describe(reading: SourceReading) -> str:
    if reading.problem:
        return f"{reading.label}: {reading.problem}"
    return f"{reading.label}: did not find {', '.join(reading.missing)}"


def _baseline(ws: Workspace, run: Run) -> tuple[str | None, dict[str, float]]:
    """The baseline run's id and metrics; no metrics when it is this run or has no results."""
    baseline_id = ws.settings.baseline
    if not baseline_id or baseline_id == run.id:
        return baseline_id, {}
    try:
        baseline: Results | None = load_run(ws, baseline_id).results()
    except NotFoundError:
        return baseline_id, {}
    return baseline_id, dict(baseline.metrics) if baseline else {}


def _delta(value: float, baseline: float) -> Delta:
    difference = value - baseline
    pct = difference / abs(baseline) * 100 if baseline else None
    return Delta(baseline, difference, pct)


def _checkpoint(run: Run) -> str | None:
    return FINAL_CHECKPOINT if (run.path / FINAL_CHECKPOINT).exists() else None


def _phase_times(run: Run) -> dict[str, Any]:
    """Start, end and exit code of training and validation, where known."""
    phases: dict[str, Any] = {}
    if (run.path / LAUNCH_FILE).exists():
        status = run_status(run)
        phases["training"] = {"started": _text(status.started), "ended": _text(status.ended),
                              "exit_code": status.exit_code}
    validation = read_validation_record(run.path)
    if validation:
        phases["validation"] = {k: validation.get(k) for k in ("started", "ended", "exit_code")}
    return phases


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _index(ws: Workspace, run_id: str) -> None:
    from expctl.registry import index_runs

    index_runs(ws, [run_id])
