"""`expctl import`: results obtained elsewhere become runs marked imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import write_jsonl

from expctl.errors import ExitCode


def read_run(workspace: Path, run_id: str) -> tuple[dict, dict, dict]:
    folder = workspace / "runs" / run_id
    info = yaml.safe_load((folder / "run.yaml").read_text())
    config = yaml.safe_load((folder / "config.yaml").read_text())
    results = json.loads((folder / "experiment_results.json").read_text())
    return info, config, results


def test_csv_import_creates_imported_runs(workspace: Path, cli) -> None:
    csv_file = workspace.parent / "board.csv"
    csv_file.write_text("id,map,small_map\n"
                        "3scale_sizeaware_100k,0.3408,0.1353\n"
                        "3scale_sizeaware_attention_100k,0.247,\n", encoding="utf-8")
    code, out, err = cli("import", str(csv_file), "--recipe", "3scale")
    assert code == 0, err
    assert out == ""
    assert "imported 2 runs from board.csv (2 new, 0 updated)" in err
    info, config, results = read_run(workspace, "3scale_sizeaware_100k")
    assert info["imported"] is True and info["recipe"] == "3scale"
    assert info["id"] == "3scale_sizeaware_100k"
    assert config == {"params": {}}
    assert results["metrics"] == {"map": 0.3408, "small_map": 0.1353}
    _, _, results = read_run(workspace, "3scale_sizeaware_attention_100k")
    assert results["metrics"] == {"map": 0.247}  # an empty cell is a missing value
    code, out, _ = cli("ls", "--format", "json")
    rows = {r["id"]: r for r in json.loads(out)["runs"]}
    assert rows["3scale_sizeaware_100k"]["status"] == "imported"
    assert rows["3scale_sizeaware_100k"]["imported"] is True


def test_jsonl_import_with_params_and_reimport(workspace: Path, cli) -> None:
    path = write_jsonl(workspace.parent / "r.jsonl", [
        {"id": "a", "metrics": {"small_map": 0.2, "map": 0.3},
         "params": {"train": {"lr": 0.01}, "fpn": "3scale"}},
        {"id": "b", "metrics": {"small_map": 0.25}},
    ])
    assert cli("import", str(path))[0] == 0
    _, config, _ = read_run(workspace, "a")
    assert config == {"params": {"train": {"lr": 0.01}, "fpn": "3scale"}}
    code, out, _ = cli("leaderboard", "--metric", "small_map", "--where", "train.lr=0.01",
                       "--format", "json")
    assert [r["id"] for r in json.loads(out)["runs"]] == ["a"]
    created = yaml.safe_load((workspace / "runs" / "a" / "run.yaml").read_text())["created"]

    write_jsonl(path, [{"id": "a", "metrics": {"small_map": 0.22, "ap50": 0.5},
                        "params": {"train": {"lr": 0.02}}},
                       {"id": "b", "metrics": {"map": 0.4}}])
    code, _, err = cli("import", str(path))
    assert code == 0, err
    assert "(0 new, 2 updated)" in err
    info, config, results = read_run(workspace, "a")
    assert results["metrics"] == {"small_map": 0.22, "map": 0.3, "ap50": 0.5}  # merged
    assert config == {"params": {"train": {"lr": 0.02}}}  # replaced
    assert info["created"] == created
    _, config, results = read_run(workspace, "b")
    assert results["metrics"] == {"small_map": 0.25, "map": 0.4}
    code, out, _ = cli("leaderboard", "--metric", "small_map", "--where", "train.lr=0.02",
                       "--format", "json")
    assert [(r["id"], r["small_map"]) for r in json.loads(out)["runs"]] == [("a", 0.22)]


BAD_FILES = [
    ("bad.csv", "id,small_map\na,0.1\nb,high\n", "bad.csv:3: column `small_map`: `high` is not "
     "a number"),
    ("bad.csv", "id,small_map\na,nan\n", "bad.csv:2: column `small_map`: `nan` is not a finite"),
    ("bad.csv", "run,small_map\na,0.1\n", "bad.csv:1: the header has no `id` column"),
    ("bad.csv", "id,small map\na,0.1\n", "bad.csv:1: Invalid metric name `small map`"),
    ("bad.csv", "id,x\n../evil,0.1\n", "bad.csv:2: Invalid run id `../evil`"),
    ("bad.csv", "id,x\na,1\na,2\n", "bad.csv:3: run `a` appears twice"),
    ("bad.csv", "id,x\na,1,2\n", "bad.csv:2: 3 cells for 2 columns"),
    ("bad.jsonl", '{"id": "a", "metrics": {"m": 1}}\n{"id": "b", "metrics": {"m": "x"}}\n',
     "bad.jsonl:2: metrics.m: Input should be a valid number"),
    ("bad.jsonl", '{"id": "a", "metrics": {}, "colour": "red"}\n',
     "bad.jsonl:1: colour: unknown key"),
    ("bad.jsonl", '{"id": "a"}\n{"id": "b", \n', "bad.jsonl:2: invalid JSON"),
    ("bad.jsonl", '{"id": "$(touch x)"}\n', "bad.jsonl:1: Invalid run id"),
    ("bad.jsonl", '{"id": "a", "metrics": {"m": NaN}}\n', "bad.jsonl:1: metrics.m:"),
    ("empty.csv", "id,m\n", "holds no runs"),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD_FILES)
def test_bad_rows_are_named_and_nothing_is_written(workspace: Path, cli, snapshot, name: str,
                                                   text: str, message: str) -> None:
    good = write_jsonl(workspace.parent / "good.jsonl", [{"id": "keep", "metrics": {"m": 1}}])
    assert cli("import", str(good))[0] == 0
    path = workspace.parent / name
    path.write_text(text, encoding="utf-8")
    before = snapshot(workspace)
    code, out, err = cli("import", str(path))
    assert code == ExitCode.BAD_INPUT, err
    assert out == ""
    assert message in err.splitlines()[0]
    assert "Traceback" not in err
    assert snapshot(workspace) == before
    assert not (workspace / "x").exists()


def test_importing_over_a_run_made_by_new_is_a_conflict(workspace: Path, cli, snapshot) -> None:
    assert cli("new", "baseline_2k")[0] == 0
    path = workspace.parent / "r.csv"
    path.write_text("id,small_map\nfresh,0.1\nbaseline_2k,0.3\n", encoding="utf-8")
    before = snapshot(workspace)
    code, _, err = cli("import", str(path))
    assert code == ExitCode.CONFLICT
    assert "r.csv:3: run `baseline_2k` exists and was not imported" in err
    assert "expctl record" in err
    assert snapshot(workspace) == before


def test_missing_file_is_not_found(workspace: Path, cli) -> None:
    code, _, err = cli("import", "nope.csv")
    assert code == ExitCode.NOT_FOUND
    assert "nope.csv" in err


def test_bad_recipe_name(workspace: Path, cli, snapshot) -> None:
    path = workspace.parent / "r.csv"
    path.write_text("id,m\na,1\n", encoding="utf-8")
    before = snapshot(workspace)
    code, _, err = cli("import", str(path), "--recipe", "../x")
    assert code == ExitCode.BAD_INPUT
    assert "Invalid recipe name" in err
    assert snapshot(workspace) == before


def test_a_recipe_without_a_file_is_recorded(workspace: Path, cli) -> None:
    """Imported results may come from a recipe kept elsewhere: only the name's spelling is
    checked (see test_bad_recipe_name), and the option's help says so."""
    path = workspace.parent / "r.csv"
    path.write_text("id,m\na,1\n", encoding="utf-8")
    code, _, err = cli("import", str(path), "--recipe", "nosuchrecipe")
    assert code == 0, err
    assert read_run(workspace, "a")[0]["recipe"] == "nosuchrecipe"
    code, out, _ = cli("import", "--help")
    assert code == 0
    assert "only its spelling is checked" in " ".join(out.split())


def test_params_beyond_the_registry_numbers_are_imported_as_text(workspace: Path, cli) -> None:
    """A 400-digit int is no float and no SQLite INTEGER: it is kept exactly in config.yaml and
    compared as text in the registry (before, the import and every later reindex crashed)."""
    huge = "1" + "0" * 400
    path = workspace.parent / "r.jsonl"
    line = '{"id": "p1", "metrics": {"m": 1}, "params": {"x": HUGE, "y": [HUGE]}}\n'
    path.write_text(line.replace("HUGE", huge), encoding="utf-8")
    code, _, err = cli("import", str(path))
    assert code == 0, err
    assert read_run(workspace, "p1")[1] == {"params": {"x": int(huge), "y": [int(huge)]}}
    assert cli("reindex")[0] == 0
    code, out, err = cli("leaderboard", "--metric", "m", "--where", f"x={huge}", "--format",
                         "json")
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)["runs"]] == ["p1"]
