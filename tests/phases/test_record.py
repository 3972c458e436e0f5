"""record_from_sources: metrics from every source, deltas against the baseline, criteria
verdicts, the write-ups, and clear errors when nothing (or a criterion) is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from standins.kit import cli, make_workspace

from expctl.errors import BadInputError, NotFoundError  # noqa: E402
from expctl.phases.new import create_run  # noqa: E402
from expctl.phases.record import record_from_sources, record_run  # noqa: E402
from expctl.runs import load_run, write_results  # noqa: E402
from expctl.workspace import Workspace  # noqa: E402

RECIPE = """\
description: record test
model: two-headed test net
command: "true"
params: {lr: 0.1}
metrics:
  primary: map
  sources:
    - kind: json
      path: validation_results/metrics.json
      metrics: {map: bbox.mAP, small_map: bbox.small}
    - kind: regex
      path: "training_logs/*.log"
      metrics: {val_rmse: "val_rmse=([\\\\d.]+)"}
    - kind: lightning
      path: validation_results/missing_file.log
criteria:
  small_map: ">= 0.20"
  val_rmse: "< 2.2"
"""


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    root = make_workspace(tmp_path, {"rec": RECIPE}, settings="\nbaseline: base\n"
                          "metrics:\n  map: {scale: 100, label: mAP}\n")
    return Workspace(root)


def add_run(ws: Workspace, run_id: str, bbox: dict, log: str | None = None):
    run = create_run(ws, run_id, "rec")
    (run.path / "validation_results" / "metrics.json").write_text(json.dumps({"bbox": bbox}))
    if log is not None:
        (run.path / "training_logs" / "train.log").write_text(log)
    return run


def test_record_reads_sources_compares_with_baseline_and_judges(ws: Workspace):
    base = add_run(ws, "base", {"mAP": 0.30, "small": 0.25}, "val_rmse=2.5\n")
    record_from_sources(ws, base)
    run = add_run(ws, "better", {"mAP": 0.33, "small": 0.15},
                  "\r 10%|#    | 1/10 [00:00<00:00]val_rmse=2.4\nval_rmse=2.0\n")
    result = record_run(ws, run)
    assert result.metrics == {"map": 0.33, "small_map": 0.15, "val_rmse": 2.0}
    assert result.warnings == [
        "lightning validation_results/missing_file.log: no file matches"]
    data = json.loads((run.path / "experiment_results.json").read_text())
    assert data["baseline"] == "base"
    assert data["deltas"]["map"]["delta"] == pytest.approx(0.03)
    assert data["deltas"]["map"]["delta_pct"] == pytest.approx(10.0)
    assert data["deltas"]["val_rmse"]["delta"] == pytest.approx(-0.5)
    assert data["criteria"] == {
        "small_map": {"criterion": ">= 0.20", "value": 0.15, "passed": False},
        "val_rmse": {"criterion": "< 2.2", "value": 2.0, "passed": True},
    }
    summary = (run.path / "validation_results" / "metrics_summary.txt").read_text()
    assert "  mAP        33.00%  30.00%           +3.00 pp (+10.0%, better)\n" in summary
    assert "  small_map  0.1500  0.2500           -0.1000 (-40.0%, worse)\n" in summary
    assert "  val_rmse   2.0000  2.5000           -0.5000 (-20.0%, better)\n" in summary
    assert "small_map >= 0.20  0.1500  FAIL" in summary
    info = (run.path / "validation_results" / "evaluation_info.txt").read_text()
    assert "Model:        two-headed test net" in info
    assert "warning: no file matches" in info
    assert info.count(run.info.git.sha) == 1
    # Both get committed: where the numbers came from is said without this machine's paths.
    assert "  json: validation_results/metrics.json -> map, small_map\n" in info
    assert "  regex: training_logs/train.log -> val_rmse\n" in info
    assert [s["files"] for s in data["sources"]] == [
        ["validation_results/metrics.json"], ["training_logs/train.log"], []]
    assert str(ws.root) not in info and str(ws.root) not in json.dumps(data["sources"])


def test_portable_paths_are_relative_to_the_run_folder_else_the_workspace(tmp_path: Path):
    from expctl.phases.record import portable_path

    root = tmp_path / "ws"
    run_dir = root / "runs" / "r1"
    assert portable_path(run_dir / "validation_results" / "m.json", run_dir, root) == \
        "validation_results/m.json"
    assert portable_path(root / ".expctl" / "trees" / "r1" / "log.jsonl", run_dir, root) == \
        "{workspace}/.expctl/trees/r1/log.jsonl"
    assert portable_path("/data/shared/log.jsonl", run_dir, root) == "/data/shared/log.jsonl"


def test_values_recorded_by_hand_are_kept(ws: Workspace):
    run = add_run(ws, "manual", {"mAP": 0.31, "small": 0.2})
    write_results(run, {"r_at_5": 0.7})
    result = record_run(ws, run)
    assert result.metrics["r_at_5"] == 0.7 and result.metrics["map"] == 0.31
    assert result.baseline == "base" and result.deltas == {}  # the baseline has no results


def test_no_source_gives_anything_is_an_error_naming_them(ws: Workspace):
    run = create_run(ws, "empty", "rec")
    with pytest.raises(NotFoundError) as err:
        record_run(ws, run)
    assert "json validation_results/metrics.json: no file matches" in err.value.message
    assert not (run.path / "experiment_results.json").exists()


def test_malformed_criterion_fails_before_anything_is_written(ws: Workspace):
    (ws.recipes_dir / "bad.yaml").write_text(RECIPE.replace('">= 0.20"', '"at least 0.2"'))
    run = create_run(ws, "bad_crit", "bad")
    (run.path / "validation_results" / "metrics.json").write_text('{"bbox": {"mAP": 0.3}}')
    with pytest.raises(BadInputError, match="is not a comparison"):
        record_run(ws, run)
    assert not (run.path / "experiment_results.json").exists()


def test_record_command_without_values_reads_the_sources(ws: Workspace):
    add_run(ws, "via_cli", {"mAP": 0.35, "small": 0.3}, "val_rmse=1.9\n")
    cli(ws.root, "record", "via_cli")
    run = load_run(ws, "via_cli")
    assert run.metrics() == {"map": 0.35, "small_map": 0.3, "val_rmse": 1.9}
