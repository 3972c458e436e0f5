"""`expctl ls` (the registry, newest first) and `expctl show` (one run folder)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import remove_registry, write_jsonl

from expctl.errors import BadInputError, ExitCode


def set_created(workspace: Path, run_id: str, created: str) -> None:
    path = workspace / "runs" / run_id / "run.yaml"
    info = yaml.safe_load(path.read_text())
    info["created"] = created
    path.write_text(yaml.safe_dump(info, sort_keys=False))


def test_ls_lists_newest_first_with_the_primary_metric(workspace: Path, cli) -> None:
    for run_id in ("baseline_1k", "baseline_2k", "baseline_3k"):
        assert cli("new", run_id)[0] == 0
    # Created times across time zones: 2k is the newest although its local hour is smallest.
    set_created(workspace, "baseline_1k", "2025-03-01T10:00:00+00:00")
    set_created(workspace, "baseline_2k", "2025-03-01T08:30:00-03:00")  # 11:30 UTC
    set_created(workspace, "baseline_3k", "2025-03-01T11:00:00+00:00")
    assert cli("reindex")[0] == 0
    assert cli("record", "baseline_1k", "small_map=0.1728", "map=0.34")[0] == 0
    code, out, err = cli("ls")
    assert code == 0, err
    assert out.splitlines() == [
        "id           recipe    status   created           steps  primary",
        "baseline_2k  baseline  created  2025-03-01 08:30   2000",
        "baseline_3k  baseline  created  2025-03-01 11:00   3000",
        "baseline_1k  baseline  created  2025-03-01 10:00   1000  small_map 0.1728",
    ]
    code, out, _ = cli("ls", "--format", "json")
    rows = json.loads(out)["runs"]
    assert rows[2] == {"id": "baseline_1k", "recipe": "baseline", "status": "created",
                       "created": "2025-03-01T10:00:00+00:00", "steps": 1000,
                       "imported": False, "primary_metric": "small_map",
                       "primary_value": 0.1728, "tags": []}
    code, out, _ = cli("ls", "--format", "csv")
    # CSV holds raw values, as JSON does: nothing to parse back out of "small_map 0.1728".
    assert out.splitlines()[0] == "id,recipe,status,created,steps,primary_metric,primary_value"
    assert out.splitlines()[3] == "baseline_1k,baseline,created,2025-03-01T10:00:00+00:00,1000," \
        "small_map,0.1728"


def test_ls_filters_and_limits(workspace: Path, cli) -> None:
    rows = [{"id": f"imp{i:02d}", "metrics": {"m": i}} for i in range(12)]
    assert cli("import", str(write_jsonl(workspace.parent / "r.jsonl", rows)), "--recipe",
               "ext")[0] == 0
    assert cli("new", "baseline_1k")[0] == 0
    ids = lambda *a: [r["id"] for r in json.loads(cli("ls", "-f", "json", *a)[1])["runs"]]  # noqa: E731
    assert len(ids()) == 13
    assert ids("--status", "created") == ["baseline_1k"]
    assert ids("--recipe", "ext", "--limit", "3") == ["imp11", "imp10", "imp09"]
    assert len(ids("--limit", "0")) == 13
    assert ids("--status", "running") == []
    code, _, err = cli("ls", "--limit", "5")
    assert code == 0 and "showing 5 of 13 runs (--limit 0 shows all)" in err


def test_ls_in_an_empty_workspace(workspace: Path, cli) -> None:
    code, out, err = cli("ls")
    assert code == 0
    assert out == "id  recipe  status  created  steps  primary\n"
    assert "no runs yet" in err
    # and again, on what the first left
    assert cli("ls", "--format", "json")[:2] == (0, '{"runs": [], "formats": {}}\n')


def test_ls_rebuilds_a_deleted_registry(workspace: Path, cli) -> None:
    assert cli("new", "baseline_1k")[0] == 0
    remove_registry(workspace)  # the file, or the tables with --postgres
    code, out, err = cli("ls")
    assert code == 0
    assert "the registry was new: indexed 1 runs" in err
    assert "baseline_1k" in out


def test_ls_outside_a_workspace(tmp_path: Path, cli) -> None:
    code, out, err = cli("ls", cwd=tmp_path)
    assert code == ExitCode.NOT_FOUND
    assert err.startswith("error: No expctl workspace here")


def test_show_reads_the_run_folder(workspace: Path, cli) -> None:
    assert cli("new", "baseline_2k", "--hypothesis", "twice the steps")[0] == 0
    assert cli("record", "small_map=0.2")[0] == 0
    (workspace / "runs" / "baseline_2k" / "metrics.jsonl").write_text(
        '{"step": 10, "loss": 1.5}\n{"step": 20, "loss": 0.7}\n', encoding="utf-8")
    code, out, err = cli("show")  # the current run
    assert code == 0, err
    text = re.sub(r"[0-9a-f]{12} on main", "SHA on main", out)
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+[+-][\d:]+", "TIME", text)
    text = text.replace(str(workspace), "WS")
    assert text.splitlines() == [
        "run baseline_2k",
        "  status      created",
        "  recipe      baseline",
        "  created     TIME",
        "  steps       2000",
        "  imported    no",
        "  git         SHA on main",
        "  hypothesis  twice the steps",
        "  path        WS/runs/baseline_2k",
        "params",
        "  train.lr          0.001",
        "  train.max_steps   2000",
        "  train.batch_size  8",
        "  model.name        tiny",
        "  model.scales      [2, 3, 4]",
        "metrics",
        "  small_map  0.2000",
        "series (metrics.jsonl)",
        "  loss  last 0.7000 @ 20, min 0.7000 @ 20, max 1.5000 @ 10 (2 points)",
        "files",
        "  checkpoints/ (0 files)",
        "  config.yaml",
        "  confusion_matrices/ (0 files)",
        "  environment.txt",
        "  experiment_hypothesis.md",
        "  experiment_results.json",
        "  metrics.jsonl",
        "  run.yaml",
        "  training_logs/ (0 files)",
        "  validation_results/ (0 files)",
    ]
    code, out, _ = cli("show", "baseline_2k", "--format", "json")
    data = json.loads(out)
    assert data["id"] == "baseline_2k" and data["status"] == "created"
    assert data["params"]["train.max_steps"] == 2000
    assert data["metrics"] == {"small_map": 0.2}
    assert data["series"]["loss"]["last_step"] == 20
    assert data["info"]["git"]["branch"] == "main"
    assert "run.yaml" in data["files"]


def test_show_unknown_run_and_no_current_run(workspace: Path, cli) -> None:
    code, _, err = cli("show", "nope")
    assert code == ExitCode.NOT_FOUND
    assert err.splitlines()[0] == "error: No run `nope` in " + str(workspace / "runs") + "."
    code, _, err = cli("show")
    assert code == ExitCode.BAD_INPUT
    assert "No run given and no current run." in err


def test_ls_refuses_an_unknown_status(workspace: Path, cli) -> None:
    code, out, err = cli("ls", "--status", "bogus")
    assert code == ExitCode.BAD_INPUT  # was an empty list and exit 0, as if no run were bogus
    assert out == ""
    assert "Error: Invalid value for '--status': 'bogus' is not one of 'created', 'queued', " \
        "'blocked', 'running', 'finished', 'failed', 'killed', 'lost', 'imported'." in err
    assert "Traceback" not in err


def test_ls_accepts_every_state_and_only_those() -> None:
    from expctl.registry.queries import check_status
    from expctl.state import STATES

    for state in STATES:
        assert check_status(state) == state
    with pytest.raises(BadInputError):
        check_status("launched")  # a state nothing produces


def test_show_names_a_config_whose_params_are_not_a_mapping(workspace: Path, cli) -> None:
    assert cli("new", "baseline_2k")[0] == 0
    config = workspace / "runs" / "baseline_2k" / "config.yaml"
    data = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**data, "params": [1, 2]}), encoding="utf-8")
    code, out, err = cli("show", "baseline_2k")
    assert code == ExitCode.BAD_INPUT  # was an internal AttributeError
    assert out == ""
    assert err.splitlines() == [f"error: {config}: `params` must be a mapping, not a list."]


def test_ls_json_and_csv_of_every_run_are_streamed_with_the_formats(workspace: Path,
                                                                     cli) -> None:
    """`--limit 0` in json/csv is written as the registry is read; json ends with the number
    format of each primary metric shown (values stay raw)."""
    (workspace / "expctl.yaml").write_text("metrics:\n  small_map: {scale: 100}\n")
    for run_id, value in (("baseline_1k", "0.1728"), ("baseline_2k", "0.25")):
        assert cli("new", run_id)[0] == 0
        assert cli("record", run_id, f"small_map={value}")[0] == 0
    assert cli("tag", "baseline_2k", "paper")[0] == 0
    code, out, err = cli("ls", "--limit", "0", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert [(r["id"], r["primary_value"], r["tags"]) for r in data["runs"]] == [
        ("baseline_2k", 0.25, ["paper"]), ("baseline_1k", 0.1728, [])]
    assert data["formats"] == {"small_map": {"direction": "higher", "scale": 100.0,
                                             "decimals": 2, "label": "small_map",
                                             "unit": None}}
    assert json.loads(cli("ls", "--limit", "5", "--format", "json")[1]) == data
    code, out, _ = cli("ls", "--limit", "0", "--format", "csv")
    assert out.splitlines()[1].startswith("baseline_2k,baseline,created,")
    assert out.splitlines()[1].endswith(",small_map,0.25")
