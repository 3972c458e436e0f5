"""Runs that share the workspace (`isolation: none`, or no git): the same three concurrent runs
as test_private_trees.py, but every file another run may have written is reported with both
run ids and never gathered or recorded as this run's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from standins.kit import cli, results
from standins.shared_paths import QUALITY, Gates, drive, expected_metrics, make_shared_workspace

sessions = pytest.mark.skipif(not (shutil.which("screen") and shutil.which("tmux")),
                              reason="screen and tmux are needed")


@sessions
def test_shared_workspace_ambiguity_is_reported_never_resolved(tmp_path: Path):
    root = make_shared_workspace(tmp_path / "ws", "none")
    gates = Gates(tmp_path / "gates")
    try:
        out = drive(root, gates, by_hand=True)
    finally:
        gates.open_all()
    assert not (root / ".expctl" / "trees").exists()  # nobody got a tree
    others = {r: [o for o in "abc" if o != r] for r in "abc"}
    refused = [r for r in "abc" if out[f"gather {r}"].returncode != 0]
    # a wrote its final checkpoint while b and c trained: its gather cannot know whose the
    # newest step=4 file is, and says so with both ids.
    assert "a" in refused
    for run_id in refused:
        done = out[f"gather {run_id}"]
        assert done.returncode == 4, done.stderr
        assert f"not `{run_id}`'s" in done.stderr
        assert any(f"`{o}`" in done.stderr for o in others[run_id]), done.stderr
    for run_id in "abc":
        run = root / "runs" / run_id
        # Whatever gather took is the run's own: checkpoint and matrices carry its tag.
        final = json.loads((run / "checkpoints" / "final_model.ckpt").read_text())
        assert final["tag"] == run_id
        for folder in ("training", "validation"):
            path = run / "confusion_matrices" / folder
            found = {p.read_bytes()[8:].decode().split()[0] for p in path.iterdir()} \
                if path.is_dir() else set()
            assert found <= {run_id}, (run_id, folder, found)
        assert out[f"validate {run_id}"].returncode == 0, out[f"validate {run_id}"].stderr
        # Recorded: only what is the run's alone (its validation log); the shared JSONL and
        # TensorBoard folder are reported with the other runs' ids and left out.
        metrics = results(root, run_id)["metrics"]
        assert metrics == {"test_ap": pytest.approx(expected_metrics(run_id)["test_ap"])}
        warned = out[f"validate {run_id}"].stderr
        assert "train_log.jsonl" in warned and "not recorded" in warned
        assert any(f"`{o}`" in warned for o in others[run_id]), warned
        shared = {s["kind"]: s.get("shared_with") for s in results(root, run_id)["sources"]}
        assert shared["jsonl"] and set(shared["jsonl"]) <= set(others[run_id])
        assert shared["regex"] is None
    # b rewrote confM/ while a validated: a's validation gather named b and took none of it.
    a_val = out["validate a"].stderr
    assert "confusion_matrix_latest.png" in a_val and "`b`" in a_val and "not gathered" in a_val
    assert QUALITY  # the qualities differ, so a mixed-up value could not pass unnoticed
    assert len(set(QUALITY.values())) == 3


def test_outside_git_runs_share_the_workspace_and_say_why(tmp_path: Path):
    root = tmp_path / "plain"
    root.mkdir()
    cli(root, "init")
    (root / "recipes" / "r.yaml").write_text("command: [\"true\"]\n")
    made = cli(root, "new", "r")
    assert "share the workspace: not a git repository" in made.stderr
    info = (root / "runs" / "r" / "run.yaml").read_text()
    assert "mode: none" in info and "not a git repository" in info
    assert not (root / ".expctl" / "trees").exists()
