"""Record: read every metric source of a run and write its results.

experiment_results.json gets the metrics, the deltas against the workspace's baseline run
(when it has results), the verdicts of the recipe's success criteria and where each number
came from; validation_results/ gets the human-readable metrics_summary.txt and
evaluation_info.txt the researcher used to write by hand. Then the registry is updated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from expctl.errors import NotFoundError
from expctl.files import write_text_atomic
from expctl.metrics.criteria import judge, parse_criteria
from expctl.metrics.sources import SourceReading, check_packages, read_sources
from expctl.metrics.specs import metric_format, metric_formats
from expctl.numbers import relative_change
from expctl.rundir import (
    CONFIG_FILE,
    FINAL_CHECKPOINT,
    INFO_FILE,
    LAUNCH_FILE,
    RESULTS_FILE,
    SUMMARY_FILE,
    read_validation_record,
)
from expctl.runs import Results, Run, keep_results, load_run, write_results
from expctl.sharing import describe_writers, writers_besides
from expctl.state import run_status
from expctl.summaries import Delta, RecordResult, evaluation_info_text, metrics_summary_text
from expctl.windows import activity_intervals
from expctl.workspace import Workspace


def record_from_sources(ws: Workspace, run: Run) -> dict[str, float]:
    """Read the recipe's metric sources into experiment_results.json; returns the metrics.
    (The contract `expctl record RUN` uses; record_run also returns warnings and verdicts.)"""
    return record_run(ws, run).metrics


def record_run(ws: Workspace, run: Run, refresh_sources: bool = False) -> RecordResult:
    """See the module docstring. A source that finds nothing is a warning while another
    source gave metrics, and an error when none did. `refresh_sources`: read the metric
    sources of the recipe as it is now (recipes/, with the run's overrides) instead of the
    run's config.yaml; the previous experiment_results.json is kept beside the new one and
    the metrics are exactly what the sources give now."""
    from expctl.metrics.context import run_context, run_recipe

    recipe = run_recipe(run)
    if refresh_sources:
        recipe = recipe.model_copy(update={"metrics": _current_metrics_spec(ws, run)})
    criteria = parse_criteria(recipe.criteria)  # a malformed criterion fails before writing

    def direction(name: str) -> str:
        return metric_format(ws, name).direction

    if not recipe.metrics.sources:
        raise NotFoundError(
            f"Recipe `{run.info.recipe}` of run `{run.id}` declares no metric sources.",
            hint=f"add metrics.sources to the recipe, or give values: `expctl record {run.id} "
            "name=value`",
        )
    readings = read_sources(recipe, run_context(ws, run, recipe), run.path, direction)
    shared = _refuse_shared(ws, run, readings)
    for reading in readings:  # written into files that get committed: no machine's paths
        reading.files = [Path(portable_path(f, run.path, ws.root)) for f in reading.files]
    found: dict[str, float] = {}
    for reading in readings:
        found.update(reading.values)
    warnings = [_describe(r) for r in readings if r.problem or r.missing]
    warnings += [f"{r.label}: {gap}" for r in readings for gap in r.gaps]
    if not found:
        check_packages(readings)  # nothing to record: the missing package is the news
        raise NotFoundError(
            f"No metric source of run `{run.id}` gave any metric: " + "; ".join(warnings) + ".",
            hint="check metrics.sources in the recipe against the files in the run folder",
        )
    baseline_id, baseline_metrics = _baseline(ws, run)
    kept = _keep_results(run) if refresh_sources else None
    current = {} if refresh_sources else run.metrics()
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
        "sources": [{**_source_entry(r),
                     **({"shared_with": shared[r.label]} if r.label in shared else {})}
                    for r in readings],
        "sources_from": _sources_origin(run, refresh_sources),
        "phases": _phase_times(run),
    }
    results = write_results(run, found, replace=refresh_sources, **extra)
    result = RecordResult(run.id, dict(results.metrics), readings, baseline_id, deltas,
                          verdicts, warnings, kept=kept)
    styles = metric_formats(ws, [*results.metrics, *(v.criterion.metric for v in verdicts)])
    summary = run.path / SUMMARY_FILE
    info = run.path / INFO_FILE
    write_text_atomic(summary, metrics_summary_text(run, results, result, styles, recipe))
    write_text_atomic(info, evaluation_info_text(run, results, result, styles, recipe))
    result.files = [summary, info]
    _index(ws, run.id)
    return result


def portable_path(path: str | Path, run_dir: Path, root: Path) -> str:
    """`path` as the recipe's sources say it: relative to the run folder, else under
    `{workspace}` (a private tree's file), else as it is."""
    for base, prefix in ((run_dir, ""), (root, "{workspace}/")):
        for folder in dict.fromkeys((base, base.resolve())):
            try:
                return prefix + str(Path(path).relative_to(folder))
            except ValueError:
                continue
    return str(path)


def _source_entry(reading: SourceReading) -> dict[str, Any]:
    """Where a source's numbers came from, as experiment_results.json keeps it."""
    entry: dict[str, Any] = {"kind": reading.kind, "path": reading.pattern,
                             "files": [str(f) for f in reading.files],
                             "metrics": sorted(reading.values)}
    for key in ("notes", "gaps", "missing"):
        if getattr(reading, key):
            entry[key] = getattr(reading, key)
    if reading.problem:
        entry["problem"] = reading.problem
    return entry


def _current_metrics_spec(ws: Workspace, run: Run):
    """The `metrics:` section of the run's recipe as it is now, with the run's own --set
    overrides of that section (its params stay those of config.yaml: what was run)."""
    from expctl.recipes import Recipe, apply_override, load_raw

    if not run.info.recipe:
        raise NotFoundError(f"Run `{run.id}` names no recipe to refresh its sources from.")
    raw = load_raw(ws, run.info.recipe)
    for override in run.info.overrides:
        if override.lstrip("+").startswith("metrics."):
            apply_override(raw, override)
    from expctl.files import validate

    return validate(Recipe, raw, f"recipe {run.info.recipe}").metrics


def _sources_origin(run: Run, refreshed: bool) -> str:
    return f"recipes/{run.info.recipe}.yaml (refreshed)" if refreshed else CONFIG_FILE


def _keep_results(run: Run) -> Path | None:
    """Copy experiment_results.json to the next free results_history/ name before a refresh."""
    return keep_results(run) if (run.path / RESULTS_FILE).exists() else None


def _refuse_shared(ws: Workspace, run: Run, readings: list[SourceReading]) -> dict[str, list]:
    """Drop the values of sources whose files other runs of the workspace may have written
    too (a shared appended log, a shared TensorBoard folder), naming those runs in the
    reading's problem; returns source label -> the other runs' ids."""
    own = activity_intervals(run.path)
    shared: dict[str, list] = {}
    for reading in readings:
        if not reading.values:
            continue
        contested = writers_besides(ws, run, reading.files, own=own)
        if not contested:
            continue
        ids = sorted({i for found in contested.values() for i in found})
        files = ", ".join(f"`{f}`" for f in contested)
        reading.problem = (f"{files} may hold {describe_writers(ids)}'s values too (written "
                           f"while they and `{run.id}` were active, in a place they share); "
                           "not recorded")
        reading.missing = sorted(reading.values)
        reading.values = {}
        shared[reading.label] = ids
    return shared


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
    return Delta(baseline, value - baseline, relative_change(value, baseline))


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
