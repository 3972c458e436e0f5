"""What the registry stores about a run folder, and how it follows the folders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from conftest import registry_execute, registry_rows

from expctl.phases.new import create_run
from expctl.registry import index as index_module
from expctl.registry import index_runs, refresh_statuses
from expctl.registry.folders import param_value, summarize_series
from expctl.registry.migrations import open_registry
from expctl.runs import load_run, write_results
from expctl.workspace import Workspace


def query(ws_root: Path, sql: str) -> list[tuple]:
    return registry_rows(ws_root, sql)  # SQLite, or PostgreSQL with --postgres


@pytest.fixture
def run_2k(workspace: Path):
    ws = Workspace(workspace)
    run = create_run(ws, "baseline_2k", hypothesis="more steps help")
    index_runs(ws, [run.id])
    return ws, run


def test_run_row_holds_run_yaml_facts(run_2k) -> None:
    ws, run = run_2k
    row = query(ws.root, "SELECT id, recipe, status, steps, imported, primary_metric, git_sha,"
                " git_branch, git_dirty, created FROM runs")
    assert row == [("baseline_2k", "baseline", "created", 2000, 0, "small_map",
                    run.info.git.sha, "main", 0, run.info.created)]
    assert len(run.info.git.sha) == 40


def test_params_are_flattened_with_numbers_where_numeric(run_2k) -> None:
    ws, _ = run_2k
    rows = dict((r[0], (r[1], r[2])) for r in
                query(ws.root, "SELECT name, value_text, value_num FROM params"))
    assert rows == {
        "train.lr": ("0.001", 0.001),
        "train.max_steps": ("2000", 2000.0),
        "train.batch_size": ("8", 8.0),
        "model.name": ("tiny", None),
        "model.scales": ("[2,3,4]", None),
    }


def test_param_value_encoding() -> None:
    assert param_value(True) == ("true", None)  # booleans are not numbers
    assert param_value(None) == ("null", None)
    assert param_value("007") == ("007", None)  # strings stay as written
    assert param_value(0.1) == ("0.1", 0.1)
    assert param_value(3) == ("3", 3.0)
    assert param_value({"a": [1]}) == ('{"a":[1]}', None)


def test_metrics_and_series_summaries(run_2k) -> None:
    ws, run = run_2k
    write_results(run, {"small_map": 0.17, "map": 0.34})
    lines = [{"step": 0, "time": 1.0, "loss": 2.0, "small_map": 0.05},
             {"step": 100, "time": 2.0, "loss": 0.5},
             {"step": 200, "time": 3.0, "loss": 0.9, "small_map": 0.17, "note": "text"},
             {"step": 300, "time": 4.0, "loss": float("nan"), "flag": True}]
    text = "".join(json.dumps(x) + "\n" for x in lines) + '{"step": 400, "loss": 0.'  # torn
    (run.path / "metrics.jsonl").write_text(text, encoding="utf-8")
    index_runs(ws, [run.id])
    rows = {r[0]: r[1:] for r in query(
        ws.root, "SELECT name, value, last, last_step, min, min_step, max, max_step, count"
        " FROM metrics")}
    assert rows == {
        "small_map": (0.17, 0.17, 200, 0.05, 0, 0.17, 200, 2),
        "map": (0.34, None, None, None, None, None, None, None),
        "loss": (None, 0.9, 200, 0.5, 100, 2.0, 0, 3),
    }


def test_series_without_steps_use_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"acc": 0.1}\n{"acc": 0.3}\n{"acc": 0.2}\n', encoding="utf-8")
    s = summarize_series(path)["acc"]
    assert (s.last, s.last_step, s.max, s.max_step, s.min, s.min_step, s.count) == \
        (0.2, 2, 0.3, 1, 0.1, 0, 3)


def test_reindexing_a_run_replaces_its_rows(run_2k) -> None:
    ws, run = run_2k
    write_results(run, {"small_map": 0.17, "old_metric": 1.0})
    index_runs(ws, [run.id])
    (run.path / "experiment_results.json").write_text(
        json.dumps({"run_id": run.id, "metrics": {"small_map": 0.2}}), encoding="utf-8")
    config = run.path / "config.yaml"
    config.write_text(config.read_text().replace("batch_size: 8", "batch_size: 16"))
    index_runs(ws, [run.id])
    assert query(ws.root, "SELECT name, value FROM metrics") == [("small_map", 0.2)]
    assert query(ws.root, "SELECT value_num FROM params WHERE name = 'train.batch_size'") \
        == [(16.0,)]
    assert query(ws.root, "SELECT COUNT(*) FROM runs") == [(1,)]


def test_a_deleted_folder_is_removed_from_the_index(run_2k) -> None:
    import shutil

    ws, run = run_2k
    write_results(run, {"small_map": 0.17})
    index_runs(ws, [run.id])
    shutil.rmtree(run.path)
    index_runs(ws, [run.id])
    for table in ("runs", "params", "metrics"):
        assert query(ws.root, f"SELECT COUNT(*) FROM {table}") == [(0,)]


def test_volatile_status_is_derived_again(run_2k) -> None:
    """A stored `running` that the files no longer support is corrected before listing."""
    ws, run = run_2k
    registry_execute(ws.root, "UPDATE runs SET status = 'running'")
    with open_registry(ws) as db:
        assert refresh_statuses(ws, db) == 1
        assert refresh_statuses(ws, db) == 0  # nothing left to correct
    assert query(ws.root, "SELECT status FROM runs") == [("created",)]


def test_ls_shows_the_derived_status(run_2k, cli) -> None:
    ws, _ = run_2k
    registry_execute(ws.root, "UPDATE runs SET status = 'lost'")
    code, out, err = cli("ls", "--status", "lost")
    assert code == 0, err
    assert out.splitlines()[1:] == []  # the header only: after the refresh no run is lost
    assert "no runs match" in err
    code, out, _ = cli("ls", "--format", "json")
    assert [r["status"] for r in json.loads(out)["runs"]] == ["created"]


def test_index_reads_run_folder_truth_not_the_previous_row(run_2k) -> None:
    ws, run = run_2k
    info = load_run(ws, run.id).info
    assert query(ws.root, "SELECT created FROM runs") == [(info.created,)]


# --- values and folders the index must survive -------------------------------------------------

HUGE = "1" + "0" * 400  # an exact int in YAML and JSON, beyond SQLite's INTEGER and a float


def test_param_value_of_numbers_without_a_float_form() -> None:
    assert param_value(int(HUGE)) == (HUGE, None)  # compared as text; float() would overflow
    assert param_value(-(2**64)) == (str(-(2**64)), float(-(2**64)))
    assert param_value(float("inf")) == ("inf", None)


def test_huge_numbers_are_stored_without_breaking_the_index(workspace: Path, cli) -> None:
    """Steps beyond int64 are stored as unknown, params beyond a float as text only: before,
    the driver's OverflowError failed this command and every later index, reindex included."""
    code, _, err = cli("new", "baseline_99999999999999999999m")
    assert code == 0, err
    code, _, err = cli("new", "big", "--recipe", "baseline", "--set", f"+big={HUGE}")
    assert code == 0, err
    lines = [{"step": 10**30, "loss": 0.5}, {"step": 1, "loss": int(HUGE)}]
    (workspace / "runs" / "big" / "metrics.jsonl").write_text(
        "".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    code, _, err = cli("reindex")
    assert code == 0, err
    assert "indexed 2 runs" in err
    assert query(workspace, "SELECT id, steps FROM runs ORDER BY id") == [
        ("baseline_99999999999999999999m", None), ("big", 1000)]
    assert query(workspace, "SELECT value_text, value_num FROM params WHERE name = 'big'") == [
        (HUGE, None)]
    assert query(workspace, "SELECT last, last_step, count FROM metrics WHERE name = 'loss'") \
        == [(0.5, None, 1)]  # the unrepresentable value is left out like inf
    code, out, err = cli("ls", "--format", "json")
    assert code == 0, err
    assert {r["id"]: r["steps"] for r in json.loads(out)["runs"]} == {
        "baseline_99999999999999999999m": None, "big": 1000}


def test_copied_and_renamed_folders_are_skipped_by_name(workspace: Path, cli) -> None:
    import shutil

    for run_id in ("q1", "q11"):
        assert cli("new", run_id, "--recipe", "baseline")[0] == 0
    shutil.copytree(workspace / "runs" / "q1", workspace / "runs" / "q10")
    (workspace / "runs" / "q11").rename(workspace / "runs" / "q11b")
    code, _, err = cli("reindex")
    assert code == 0, err  # was exit 5: UNIQUE constraint failed: params.run_id, params.name
    assert "skipped q10: runs/q10/run.yaml says id `q1` (a copied or renamed folder? fix the " \
        "id in run.yaml)" in err
    assert "skipped q11b: runs/q11b/run.yaml says id `q11`" in err
    assert "indexed 1 runs" in err and "skipped 2" in err
    assert query(workspace, "SELECT id FROM runs") == [("q1",)]  # not q11, which has no folder


def test_a_config_whose_params_are_not_a_mapping_is_skipped(workspace: Path, cli) -> None:
    for run_id in ("good", "bad"):
        assert cli("new", run_id, "--recipe", "baseline")[0] == 0
    config = workspace / "runs" / "bad" / "config.yaml"
    data = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**data, "params": [1, 2]}), encoding="utf-8")
    code, _, err = cli("reindex")
    assert code == 0, err
    assert f"skipped bad: {config}: `params` must be a mapping, not a list." in err
    assert query(workspace, "SELECT id FROM runs") == [("good",)]


_SERIAL_READ_CHUNK = index_module._read_chunk


def _read_chunk_noting_pid(runs_dir: str, run_ids: list[str]) -> list[tuple]:
    """index._read_chunk, leaving a file named after the process it ran in."""
    (Path(runs_dir).parent / f"chunk-read-by-{os.getpid()}").touch()
    return _SERIAL_READ_CHUNK(runs_dir, run_ids)


def test_a_parallel_reindex_stores_what_a_serial_one_does(workspace: Path, cli,
                                                          monkeypatch) -> None:
    """Beyond PARALLEL_AT_LEAST folders worker processes parse them: same rows, same
    warnings for a garbled folder, in the same order."""
    from conftest import remove_registry, write_jsonl

    rows = [{"id": f"r{i:02d}", "params": {"lr": i / 10, "arch": f"a{i % 3}", "deep": {"n": i}},
             "metrics": {"map": i / 100, "loss": 1 - i / 100}} for i in range(12)]
    assert cli("import", str(write_jsonl(workspace.parent / "runs.jsonl", rows)))[0] == 0
    (workspace / "runs" / "r05" / "run.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    (workspace / "runs" / "r09" / "config.yaml").write_text("params: 3\n", encoding="utf-8")
    monkeypatch.setattr(index_module, "_read_chunk", _read_chunk_noting_pid)
    columns = [c for c in index_module._RUN_COLUMNS if c != "indexed_at"]

    def reindexed(parallel_at: int) -> tuple:
        remove_registry(workspace)
        monkeypatch.setattr(index_module, "PARALLEL_AT_LEAST", parallel_at)
        monkeypatch.setattr(index_module, "PARALLEL_CHUNK", 4)
        code, out, err = cli("reindex")
        assert code == 0, err
        return (err, query(workspace, f"SELECT {', '.join(columns)} FROM runs ORDER BY id"),
                *(query(workspace, f"SELECT * FROM {t} ORDER BY run_id, name")
                  for t in ("params", "metrics")))

    serial = reindexed(10**6)
    readers = {p.name for p in workspace.glob("chunk-read-by-*")}
    assert readers == {f"chunk-read-by-{os.getpid()}"}  # this process alone
    parallel = reindexed(3)
    assert len({p.name for p in workspace.glob("chunk-read-by-*")} - readers) >= 1  # workers
    assert parallel == serial
    err = serial[0]
    assert err.index("skipped r05: ") < err.index("skipped r09: ")
    assert "indexed 10 runs" in err and "skipped 2" in err
    assert len(serial[1]) == 10 and len(serial[2]) == 30


def test_reindex_rewrites_exactly_the_rows_that_differ_from_the_folders(workspace: Path,
                                                                        cli) -> None:
    """Rows equal to their folder's are left (their indexed_at too); a row changed in the
    database, one lacking a param, and a row of a folder edited by hand are rebuilt."""
    from conftest import write_jsonl

    rows = [{"id": i, "params": {"lr": 0.1}, "metrics": {"map": 0.5}} for i in ("a", "b", "c", "d")]
    assert cli("import", str(write_jsonl(workspace.parent / "runs.jsonl", rows)))[0] == 0
    registry_execute(workspace, "UPDATE runs SET indexed_at = 'then'")
    registry_execute(workspace, "UPDATE metrics SET value = 0.9 WHERE run_id = 'a'")
    registry_execute(workspace, "DELETE FROM params WHERE run_id = 'b'")
    write_results(load_run(Workspace(workspace), "c"), {"map": 0.7})
    assert cli("reindex")[0] == 0
    assert query(workspace, "SELECT run_id, value FROM metrics ORDER BY run_id") == [
        ("a", 0.5), ("b", 0.5), ("c", 0.7), ("d", 0.5)]
    assert query(workspace, "SELECT run_id FROM params ORDER BY run_id") == [
        ("a",), ("b",), ("c",), ("d",)]
    stamps = dict(query(workspace, "SELECT id, indexed_at FROM runs"))
    assert stamps["d"] == "then" and all(stamps[i] != "then" for i in "abc")
