"""End to end with real subprocesses: stand-ins for three kinds of third-party training script
go through launch, wait, gather, validate and record (or `cycle`), twice in a row, in a real
git repository; an interrupted cycle continues without training twice."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from standins.kit import (
    PY,
    argparse_recipe,
    child_env,
    cli,
    git,
    hydra_recipe,
    make_workspace,
    results,
    tb_recipe,
)

DAY = 86400


@pytest.fixture()
def hydra_ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    make_workspace(root, {"hydra": hydra_recipe(tmp_path / "starts.txt")},
                   settings="\nbaseline: hydra_6\n")
    # Leftovers of an older experiment beside the new ones: a higher step and fresh-looking
    # confusion matrices, but written a day ago.
    old = time.time() - DAY
    stale = root / "work" / "dummy" / "oldrun01" / "checkpoints"
    stale.mkdir(parents=True)
    confm = root / "work" / "confM"
    confm.mkdir()
    for path in (stale / "epoch=099-step=999999-val_AP=0.99.ckpt",
                 confm / "confusion_matrix_latest.png",
                 confm / "confusion_matrix_e050_s0000100.png"):
        path.write_text(json.dumps({"tag": "stale", "step": 999999, "epoch": 99}))
        os.utime(path, (old, old))
    return root


def tags_in(folder: Path) -> set[str]:
    """The run tag each gathered file carries (the stand-ins write it into every file)."""
    found = set()
    for path in folder.iterdir():
        text = path.read_bytes().decode(errors="replace")
        found.add(text.split("tag\": \"")[-1].split("\"")[0] if text.startswith("{")
                  else text[8:].split(" ")[0])
    return found


def recorded_equals_printed(root: Path, run_id: str) -> None:
    expected = json.loads((root / "runs" / run_id / "expected.json").read_text())
    metrics = results(root, run_id)["metrics"]
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-12), key


def test_hydra_script_two_runs_in_a_row_gather_only_their_own_files(hydra_ws: Path):
    root = hydra_ws
    # Run 1, phase by phase.
    cli(root, "new", "hydra_6")
    cli(root, "launch", "hydra_6", "--local")
    cli(root, "wait", "hydra_6")
    gathered = cli(root, "gather", "hydra_6")
    assert "final_model.ckpt" in gathered.stdout and "confusion_train" in gathered.stdout
    run1 = root / "runs" / "hydra_6"
    final = json.loads((run1 / "checkpoints" / "final_model.ckpt").read_text())
    assert final["tag"] == "hydra_6" and final["step"] == 6  # never the stale step=999999
    train_cm = run1 / "confusion_matrices" / "training"
    assert sorted(p.name for p in train_cm.iterdir()) == [
        "confusion_matrix_e000_s0000003.png", "confusion_matrix_e001_s0000006.png",
        "confusion_matrix_latest.png"]
    assert tags_in(train_cm) == {"hydra_6"}
    validated = cli(root, "validate", "hydra_6")
    assert "Overall:" in validated.stdout  # the output was shown while it ran
    log = (run1 / "validation_results" / "validation_output.log").read_bytes()
    assert b"\rValidating: 100%" in log  # logged byte for byte, carriage returns included
    record = json.loads((run1 / "validation_results" / "validation.json").read_text())
    assert record["exit_code"] == 0 and record["ended"]
    val_cm = run1 / "confusion_matrices" / "validation"
    assert sorted(p.name for p in val_cm.iterdir()) == [
        "confusion_matrix_e001_s0000006.png", "confusion_matrix_latest.png"]
    assert {p.read_bytes()[8:].decode() for p in val_cm.iterdir()} == {
        "hydra_6 validate step 6"}
    recorded_equals_printed(root, "hydra_6")
    summary = (run1 / "validation_results" / "metrics_summary.txt").read_text()
    assert "small_map >= 0.10" in summary and "PASS" in summary
    info = (run1 / "validation_results" / "evaluation_info.txt").read_text()
    assert "3-scale FPN stand-in" in info and "checkpoints/final_model.ckpt" in info

    # Gathering again changes nothing.
    manifest = (run1 / "training_logs" / "gathered.json").read_text()
    again = cli(root, "gather", "hydra_6")
    assert "copied" not in again.stdout and "linked" not in again.stdout
    # All four are reported, including the two that validation has rewritten since.
    assert again.stdout.count("unchanged") == 4
    assert (run1 / "training_logs" / "gathered.json").read_text() == manifest

    # Run 2 with another epoch length, through `cycle`: run 1's files sit in the same
    # folders (dummy/, confM/) and must not be taken.
    cycle = cli(root, "cycle", "hydra_8", "--local", "--set", "steps_per_epoch=4")
    for phase in ("new: done", "launch: done", "wait: done", "gather train: done",
                  "validate: done", "gather validate: done", "record: done"):
        assert phase in cycle.stderr
    run2 = root / "runs" / "hydra_8"
    final2 = json.loads((run2 / "checkpoints" / "final_model.ckpt").read_text())
    assert final2["tag"] == "hydra_8" and final2["step"] == 8
    assert sorted(p.name for p in (run2 / "confusion_matrices" / "training").iterdir()) == [
        "confusion_matrix_e000_s0000004.png", "confusion_matrix_e001_s0000008.png",
        "confusion_matrix_latest.png"]
    assert tags_in(run2 / "confusion_matrices" / "training") == {"hydra_8"}
    recorded_equals_printed(root, "hydra_8")
    second = results(root, "hydra_8")
    assert second["baseline"] == "hydra_6"
    assert second["deltas"]["map"]["delta"] == pytest.approx(
        second["metrics"]["map"] - results(root, "hydra_6")["metrics"]["map"])
    # Run 1 still has exactly its own files.
    assert tags_in(train_cm) == {"hydra_6"}


def test_argparse_script_with_jsonl_and_epoch_checkpoints(tmp_path: Path):
    root = make_workspace(tmp_path, {"faap": argparse_recipe()})
    committed = cli(root, "cycle", "faap_3", "--local", "--commit", "--findings", "gap shrinks")
    assert "commit: done" in committed.stderr
    assert git(root, "log", "-1", "--format=%s").strip() == "feat: complete faap_3 experiment"
    # cycle.log, written after the commit, is ignored: the run leaves the tree clean
    assert git(root, "status", "--porcelain", "--", "runs") == ""
    cli(root, "cycle", "faap_2", "--local")  # fewer epochs: epoch_0002.pth is a leftover
    assert "dirty: false" in (root / "runs" / "faap_2" / "run.yaml").read_text()
    for run_id, epochs in (("faap_3", 3), ("faap_2", 2)):
        run = root / "runs" / run_id
        final = json.loads((run / "checkpoints" / "final_model.ckpt").read_text())
        assert final == {"tag": run_id, "epoch": epochs - 1}
        assert (run / "training_logs" / "config.json").exists()
        printed = (run / "training_logs" / "stdout.log").read_text()
        best = re.search(r"best epoch (\d+): ap=([\d.]+) ap_gap=([\d.]+)", printed)
        metrics = results(root, run_id)["metrics"]
        assert metrics["ap"] == float(best.group(2))
        assert metrics["ap_gap"] == float(best.group(3))  # the gap at the best-AP epoch
    verdicts = results(root, "faap_3")["criteria"]
    assert verdicts["ap_gap"] == {"criterion": "< 0.11", "value": 0.1, "passed": True}


def test_tensorboard_only_script_judged_by_lower_is_better_criteria(tmp_path: Path):
    root = make_workspace(tmp_path, {"depth": tb_recipe()},
                          settings="\nbaseline: depth_4\n")
    cli(root, "cycle", "depth_4", "--local")
    cli(root, "cycle", "depth_4_weak", "--local", "--recipe", "depth",
        "--set", "lambda_base=0.5")
    good, weak = results(root, "depth_4"), results(root, "depth_4_weak")
    # Best = lowest RMSE (the last epoch overshoots), as printed by the script.
    for run_id, data in (("depth_4", good), ("depth_4_weak", weak)):
        printed = (root / "runs" / run_id / "training_logs" / "stdout.log").read_text()
        rmses = [float(x) for x in re.findall(r"val_rmse=([\d.]+)", printed)]
        assert data["metrics"]["val_rmse"] == pytest.approx(min(rmses), abs=1e-6)
        assert data["metrics"]["val_rmse"] != pytest.approx(rmses[-1], abs=1e-6)
    assert good["criteria"]["val_rmse"]["passed"] is True
    assert weak["criteria"]["val_rmse"]["passed"] is False
    assert weak["deltas"]["val_rmse"]["delta"] > 0
    summary = (root / "runs" / "depth_4_weak" / "validation_results" /
               "metrics_summary.txt").read_text()
    assert re.search(r"val_rmse .* worse", summary)
    compared = json.loads(cli(root, "compare", "depth_4", "depth_4_weak", "--format",
                              "json").stdout)
    rows = {m["metric"]: m for m in compared["metrics"]}
    assert rows["val_rmse"]["direction"] == "lower" and rows["val_rmse"]["b_better"] is False
    assert {d["key"] for d in compared["config"]} == {"params.lambda_base"}


def test_interrupted_cycle_continues_without_training_twice(hydra_ws: Path, tmp_path: Path):
    root, gate = hydra_ws, tmp_path / "gate"
    first = subprocess.Popen(
        [PY, "-m", "expctl", "-C", str(root), "cycle", "hydra_6", "--local",
         "--set", f"gate_file={gate}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=child_env())
    seen = []
    for line in first.stderr:  # blocks until the cycle reports; no sleeping
        seen.append(line)
        if line.startswith("wait: start"):
            break
    assert any(line.startswith("launch: done") for line in seen), seen
    first.send_signal(signal.SIGINT)  # the user's Ctrl-C, or a dropped SSH connection
    assert first.wait(timeout=30) == 130
    first.stderr.close()
    gate.write_text("go")  # the training, still running in its own session, may finish
    second = cli(root, "cycle", "hydra_6", "--local", "--set", f"gate_file={gate}")
    assert "launch: skipped (already launched" in second.stderr
    assert "record: done" in second.stderr
    assert (tmp_path / "starts.txt").read_text().splitlines() == ["hydra_6"]
    recorded_equals_printed(root, "hydra_6")
    third = cli(root, "cycle", "hydra_6", "--local", "--set", f"gate_file={gate}")
    assert "validate: skipped (already validated)" in third.stderr
    assert "record: skipped (already recorded)" in third.stderr


def test_failed_training_stops_the_cycle_with_its_exit_code(hydra_ws: Path):
    result = cli(hydra_ws, "cycle", "hydra_6", "--local", "--set", "fail_with=3", check=False)
    assert result.returncode == 3, result.stderr
    assert "wait: failed (training failed, exit code 3)" in result.stderr
    assert "gather" not in result.stderr
    assert not (hydra_ws / "runs" / "hydra_6" / "checkpoints" / "final_model.ckpt").exists()
