"""A sweep's summary: for each swept key, the metric per value (runs, mean, best), and the
sweep's best run against the baseline. Read from the run folders (the truth), never printed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from expctl.errors import BadInputError
from expctl.workspace import Workspace


@dataclass
class ValueRow:
    value: str  # as the run ids show it (expctl.sweep.id_text)
    runs: int  # runs with this value
    measured: int  # of them, with the metric
    mean: float | None
    best: float | None
    best_run: str | None


@dataclass
class SweepSummary:
    sweep_id: str
    metric: str
    direction: str
    scale: float
    by_key: dict[str, list[ValueRow]]
    best_run: str | None
    best_value: float | None
    baseline: str | None
    baseline_value: float | None
    runs: int
    measured: int
    warnings: list[str] = field(default_factory=list)

    @property
    def delta(self) -> float | None:
        if self.best_value is None or self.baseline_value is None:
            return None
        return self.best_value - self.baseline_value

    @property
    def delta_pct(self) -> float | None:
        if self.delta is None or not self.baseline_value:
            return None
        return 100.0 * self.delta / abs(self.baseline_value)


def summarize(ws: Workspace, sweep_id: str, metric: str | None = None,
              baseline: str | None = None) -> SweepSummary:
    """The summary of sweep `sweep_id` over `metric` (default: the leaderboard's metric, else
    the runs' primary metric) against `baseline` (default: expctl.yaml's)."""
    from expctl.errors import ExpctlError
    from expctl.flat import get_path
    from expctl.ids import check_metric_name
    from expctl.registry.settings import read_settings
    from expctl.runs import load_run
    from expctl.sweep import id_text, read_sweep

    sweep = read_sweep(ws, sweep_id)
    keys = list((sweep.get("axes") or {}).keys())
    settings = read_settings(ws)
    runs, warnings = [], []
    for run_id in sweep["runs"]:
        try:
            runs.append(load_run(ws, run_id))
        except ExpctlError as exc:
            warnings.append(f"run {run_id}: {exc.message}")
    if metric is None:
        metric = settings.board_metric or next(
            (m for r in runs if (m := (r.config().get("metrics") or {}).get("primary"))), None)
    if not metric:
        raise BadInputError("No metric to summarise by.", hint="pass --metric NAME")
    check_metric_name(metric)
    direction = settings.direction(metric)
    better = max if direction == "higher" else min
    values: dict[str, float] = {}
    params: dict[str, dict[str, Any]] = {}
    for run in runs:
        config = run.config()
        params[run.id] = {k: get_path(config.get("params") or {}, k.removeprefix("params."),
                                      get_path(config, k, None)) for k in keys}
        value = run.metrics().get(metric)
        if value is not None:
            values[run.id] = value
    by_key = {}
    for key in keys:
        groups: dict[str, list[str]] = {}
        for run in runs:
            groups.setdefault(id_text(params[run.id][key]), []).append(run.id)
        rows = []
        for text, ids in groups.items():
            measured = [(values[i], i) for i in ids if i in values]
            best = better(measured, key=lambda pair: pair[0]) if measured else None
            rows.append(ValueRow(text, len(ids), len(measured),
                                 sum(v for v, _ in measured) / len(measured) if measured else None,
                                 best[0] if best else None, best[1] if best else None))
        by_key[key] = rows
    best_run = better(values, key=lambda i: values[i]) if values else None
    baseline = baseline or settings.baseline
    baseline_value = None
    if baseline:
        try:
            baseline_value = load_run(ws, baseline).metrics().get(metric)
        except ExpctlError as exc:
            warnings.append(f"baseline {baseline}: {exc.message}")
        if baseline_value is None and not warnings:
            warnings.append(f"baseline {baseline} has no value for {metric}")
    if not values:
        warnings.append(f"no run of the sweep has a value for {metric} yet")
    return SweepSummary(sweep_id, metric, direction, settings.scale(metric), by_key, best_run,
                        values.get(best_run) if best_run else None, baseline, baseline_value,
                        len(runs), len(values), warnings)
