"""`expctl record`: final metrics into the run folder and the registry, or nothing at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import registry_rows

from expctl.errors import ExitCode


def results(workspace: Path, run_id: str) -> dict:
    path = workspace / "runs" / run_id / "experiment_results.json"
    return json.loads(path.read_text())["metrics"] if path.exists() else {}


def indexed(workspace: Path, run_id: str) -> dict:
    return dict(registry_rows(workspace, "SELECT name, value FROM metrics WHERE run_id = :id",
                              {"id": run_id}))


@pytest.fixture
def two_runs(workspace: Path, cli) -> Path:
    for run_id in ("baseline_1k", "baseline_2k"):  # baseline_2k ends as the current run
        code, _, err = cli("new", run_id)
        assert code == 0, err
    return workspace


def test_record_into_the_current_run(two_runs: Path, cli) -> None:
    code, out, err = cli("record", "small_map=0.1728", "map=0.3402")
    assert code == 0, err
    assert out == ""
    assert err.strip() == "recorded baseline_2k: small_map 0.1728, map 0.3402"
    assert results(two_runs, "baseline_2k") == {"small_map": 0.1728, "map": 0.3402}
    assert indexed(two_runs, "baseline_2k") == {"small_map": 0.1728, "map": 0.3402}


def test_record_into_a_named_run_merges(two_runs: Path, cli) -> None:
    assert cli("record", "baseline_1k", "small_map=0.1", "map=0.3")[0] == 0
    assert cli("record", "baseline_1k", "small_map=0.15", "ap50=5e-1")[0] == 0
    expected = {"small_map": 0.15, "map": 0.3, "ap50": 0.5}
    assert results(two_runs, "baseline_1k") == expected
    assert indexed(two_runs, "baseline_1k") == expected
    assert results(two_runs, "baseline_2k") == {}


@pytest.mark.parametrize(("args", "message"), [
    (["small_map=high"], "Metric `small_map`: `high` is not a number."),
    (["small_map=0.1", "map="], "Metric `map`: `` is not a number."),
    (["small_map=nan"], "Metric `small_map`: `nan` is not a finite number."),
    (["small_map=inf"], "Metric `small_map`: `inf` is not a finite number."),
    (["baseline_1k", "small map=1"], "Invalid metric name `small map`."),
    (["baseline_1k", "=1"], "Invalid metric name ``."),
    (["baseline_1k", "small_map"], "`small_map` is not name=value."),
    (["baseline_1k", "0.5", "x=1"], "`0.5` is not name=value."),
    (["../x", "m=1"], "Invalid run id `../x`."),
])
def test_bad_values_write_nothing(two_runs: Path, cli, snapshot, args, message) -> None:
    before = snapshot(two_runs)
    code, out, err = cli("record", *args)
    assert code == ExitCode.BAD_INPUT, err
    assert out == ""
    assert err.splitlines()[0] == f"error: {message}"
    assert "Traceback" not in err
    assert snapshot(two_runs) == before


def test_unknown_run_is_not_found(two_runs: Path, cli, snapshot) -> None:
    before = snapshot(two_runs)
    code, _, err = cli("record", "baseline_9k", "m=1")
    assert code == ExitCode.NOT_FOUND
    assert err.startswith("error: No run `baseline_9k`")
    assert snapshot(two_runs) == before


def test_no_values_reads_the_recipe_sources(workspace: Path, cli) -> None:
    """Without name=value, `record` reads the recipe's metric sources (here a results JSON the
    training wrote into the run folder), writes experiment_results.json and indexes it."""
    (workspace / "recipes" / "sourced.yaml").write_text(
        "extends: baseline\n"
        "metrics:\n"
        "  sources:\n"
        "    - {kind: json, path: results.json, metrics: {small_map: eval.small_map}}\n",
        encoding="utf-8")
    assert cli("new", "sourced_1k")[0] == 0
    (workspace / "runs" / "sourced_1k" / "results.json").write_text(
        '{"eval": {"small_map": 0.42, "other": 1}}', encoding="utf-8")
    code, _, err = cli("record", "sourced_1k")
    assert code == 0, err
    assert "small_map" in err and "0.42" in err
    assert results(workspace, "sourced_1k") == {"small_map": 0.42}
    assert indexed(workspace, "sourced_1k") == {"small_map": 0.42}
