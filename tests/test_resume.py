"""Resume and re-record: `launch --resume --set` changes the failing setting for the new
attempt, `{last_checkpoint}` is this run's newest own checkpoint, every attempt's config stays
readable, and `record --refresh-sources` re-records with the recipe's current sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from standins.kit import cli, hydra_recipe, make_workspace, results  # noqa: E402

from expctl.runs import attempt_config, load_run  # noqa: E402
from expctl.workspace import Workspace  # noqa: E402

RESUME_ARGS = 'resume_args: ["ckpt_path={last_checkpoint}"]\n'


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "ws").mkdir()
    recipe = hydra_recipe(tmp_path / "starts.txt") + RESUME_ARGS
    return make_workspace(tmp_path / "ws", {"hydra": recipe})


def test_resume_with_set_after_a_failure_finishes_and_keeps_both_configs(root: Path):
    failed = cli(root, "cycle", "hydra_6", "--local", "--set", "fail_with=3", check=False)
    assert failed.returncode == 3, failed.stderr
    run_path = root / "runs" / "hydra_6"
    work = root / ".expctl" / "trees" / "hydra_6" / "work"  # the run's private working tree
    first_ckpts = sorted((work / "dummy").glob("*/checkpoints/*step=3*.ckpt"))
    assert len(first_ckpts) == 1  # the failing attempt saved one checkpoint before it failed

    bad = cli(root, "launch", "hydra_6", "--resume", "--set", "training.max_steps=lots",
              check=False)
    assert bad.returncode == 2 and "expected an integer" in bad.stderr  # as `new --set`
    assert not (run_path / "attempts").exists()  # nothing changed by a refused launch

    cli(root, "launch", "hydra_6", "--resume", "--local", "--set", "fail_with=")
    cli(root, "wait", "hydra_6", "--timeout", "60")
    spec = json.loads((run_path / "launch.json").read_text())
    assert spec["attempt"] == 2 and spec["sets"] == ["fail_with="]
    assert spec["argv"][-1] == f"ckpt_path={first_ckpts[0].resolve()}"

    run = load_run(Workspace(root), "hydra_6")
    assert attempt_config(run, 1)["params"]["fail_with"] == "3"
    assert attempt_config(run, 2)["params"]["fail_with"] == ""
    assert yaml.safe_load((run_path / "config.yaml").read_text())["params"]["fail_with"] == ""
    kept = yaml.safe_load((run_path / "attempts" / "1" / "config.yaml").read_text())
    assert kept["params"]["fail_with"] == "3"

    done = cli(root, "cycle", "hydra_6", "--local")  # gather, validate, record
    assert "launch: skipped" in done.stderr and "record: done" in done.stderr
    final = json.loads((run_path / "checkpoints" / "final_model.ckpt").read_text())
    assert final["step"] == 6 and final["tag"] == "hydra_6"
    expected = json.loads((run_path / "expected.json").read_text())
    assert results(root, "hydra_6")["metrics"]["map"] == expected["map"]
    listed = json.loads(cli(root, "ls", "--format", "json").stdout)["runs"]
    assert [(r["id"], r["status"]) for r in listed] == [("hydra_6", "finished")]


def test_last_checkpoint_is_never_another_runs(root: Path):
    cli(root, "new", "hydra_6", "--set", "fail_with=3")
    cli(root, "launch", "hydra_6", "--local")
    cli(root, "wait", "hydra_6", "--timeout", "60", check=False)
    cli(root, "cycle", "other_6", "--recipe", "hydra", "--local")  # a later run, same folder
    cli(root, "launch", "hydra_6", "--resume", "--local", "--set", "fail_with=")
    cli(root, "wait", "hydra_6", "--timeout", "60")
    argv = json.loads((root / "runs" / "hydra_6" / "launch.json").read_text())["argv"]
    used = Path(argv[-1].removeprefix("ckpt_path="))
    assert json.loads(used.read_text())["tag"] == "hydra_6" and "step=3" in used.name


def test_set_needs_resume(root: Path):
    cli(root, "new", "hydra_6")
    refused = cli(root, "launch", "hydra_6", "--set", "fail_with=1", check=False)
    assert refused.returncode == 2 and "--resume" in refused.stderr


def test_record_refresh_sources_keeps_the_history(root: Path):
    cli(root, "cycle", "hydra_6", "--local")
    before = results(root, "hydra_6")
    assert "big" not in before["metrics"]
    recipe = root / "recipes" / "hydra.yaml"
    recipe.write_text(recipe.read_text().replace("groups: {small_map: [2, 3, 4]}",
                                                 "groups: {small_map: [2, 3, 4], big: [5]}"))
    done = cli(root, "record", "hydra_6", "--refresh-sources")
    assert "results_history/experiment_results.1.json" in done.stderr
    after = results(root, "hydra_6")
    assert after["metrics"]["big"] > 0 and after["metrics"]["map"] == before["metrics"]["map"]
    assert after["sources_from"] == "recipes/hydra.yaml (refreshed)"
    kept = json.loads((root / "runs" / "hydra_6" / "results_history" /
                       "experiment_results.1.json").read_text())
    assert kept == before
    # The run's config.yaml still says what it ran with.
    config = yaml.safe_load((root / "runs" / "hydra_6" / "config.yaml").read_text())
    assert "big" not in config["metrics"]["sources"][0]["groups"]
