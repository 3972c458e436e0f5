"""Private working trees: three runs of one workspace at once (screen, tmux, local) whose
scripts write to the same fixed relative paths each gather their own checkpoint, matrices and
metrics; a run launched after the code changed runs the code it recorded; trees are cleaned
only when their runs are done with them, and the workspace's git status never shows them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from standins.kit import cli, git, results
from standins.shared_paths import (
    Gates,
    drive,
    ended,
    expected_metrics,
    make_shared_workspace,
    until,
)

pytestmark = pytest.mark.skipif(not (shutil.which("screen") and shutil.which("tmux")),
                                reason="screen and tmux are needed")


def tags(folder: Path) -> set[str]:
    return {p.read_bytes()[8:].decode() for p in folder.iterdir()}


def test_three_concurrent_runs_each_gather_and_record_their_own(tmp_path: Path):
    root = make_shared_workspace(tmp_path / "ws", "tree")
    gates = Gates(tmp_path / "gates")
    try:
        out = drive(root, gates)
    finally:
        gates.open_all()
    for name, done in out.items():
        assert done.returncode == 0, f"{name}: {done.stderr}"
    trees = root / ".expctl" / "trees"
    for run_id in "abc":
        run = root / "runs" / run_id
        final = json.loads((run / "checkpoints" / "final_model.ckpt").read_text())
        assert (final["tag"], final["step"], final["code"]) == (run_id, 4, "v1")
        assert final["data"] == "events-v1" and final["extra"] == "untracked-v1"
        assert Path(final["cwd"]) == (trees / run_id / "work").resolve()
        train = run / "confusion_matrices" / "training"
        assert sorted(p.name for p in train.iterdir()) == [
            "confusion_matrix_e000_s0000002.png", "confusion_matrix_e001_s0000004.png",
            "confusion_matrix_latest.png"]
        assert tags(train) == {f"{run_id} train e0 s2", f"{run_id} train e1 s4"}
        val = run / "confusion_matrices" / "validation"
        assert tags(val) == {f"{run_id} validate e1 s4"}
        assert len(list(val.iterdir())) == 2
        metrics = results(root, run_id)["metrics"]
        for name, value in expected_metrics(run_id).items():
            assert metrics[name] == pytest.approx(value), (run_id, name)
        assert "may hold" not in out[f"validate {run_id}"].stderr
        assert "may be" not in out[f"validate {run_id}"].stderr
    # The windows really overlapped: b trained on while a validated.
    a_val = json.loads((root / "runs/a/validation_results/validation.json").read_text())
    b_job = json.loads((root / "runs/b/training_logs/job.json").read_text())
    assert b_job["ended"] > a_val["started"]
    # Nothing of the trees shows in the workspace's git; nothing was written to its work/.
    status = git(root, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert [s for s in status if not s.startswith("?? runs/") and s != "?? extra.txt"] == []
    assert sorted(p.name for p in (root / "work").iterdir()) == [".keep"]
    # Cleaning: every run is done with its tree; the gathered checkpoints stay readable.
    cleaned = cli(root, "clean-trees")
    assert "removed 3 tree(s)" in cleaned.stderr
    assert not trees.exists()  # the last tree takes its folder with it
    assert git(root, "worktree", "list").count("\n") == 1
    for run_id in "abc":
        final = json.loads((root / "runs" / run_id / "checkpoints/final_model.ckpt").read_text())
        assert final["tag"] == run_id
    assert (root / "data" / "dataset.txt").read_text() == "events-v1\n"  # links, not targets


def test_a_run_runs_the_code_it_recorded_at_new(tmp_path: Path):
    root = make_shared_workspace(tmp_path / "ws", "tree")
    script = root / "shared_paths_train.py"
    cli(root, "new", "old", "--recipe", "sp")
    # The code changes after `new`: committed, then uncommitted, and the untracked file too.
    script.write_text(script.read_text().replace('CODE_VERSION = "v1"', 'CODE_VERSION = "v2"'))
    git(root, "commit", "-qam", "v2")
    cli(root, "new", "committed", "--recipe", "sp")
    script.write_text(script.read_text().replace('CODE_VERSION = "v2"', 'CODE_VERSION = "v3"'))
    (root / "extra.txt").write_text("untracked-v3\n")
    cli(root, "new", "refreshed", "--recipe", "sp")
    script.write_text(script.read_text().replace('CODE_VERSION = "v3"', 'CODE_VERSION = "v4"'))
    launched = {}
    for run_id in ("old", "committed"):
        launched[run_id] = cli(root, "launch", run_id, "--local")
    assert "changed since `new` (commit" in launched["old"].stderr
    assert "uncommitted changes" in launched["committed"].stderr
    # A fresh snapshot of a never-launched run takes today's code (v4).
    cli(root, "snapshot", "refreshed")
    launched["refreshed"] = cli(root, "launch", "refreshed", "--local")
    assert "changed since" not in launched["refreshed"].stderr
    for run_id in launched:
        until(lambda run_id=run_id: ended(root, run_id), f"{run_id} to finish")
        cli(root, "gather", run_id)
    code = {}
    for run_id in launched:
        final = json.loads((root / "runs" / run_id / "checkpoints/final_model.ckpt").read_text())
        code[run_id] = (final["code"], final["extra"])
    assert code == {"old": ("v1", "untracked-v1"), "committed": ("v2", "untracked-v1"),
                    "refreshed": ("v4", "untracked-v3")}
    # A launched run's snapshot is what it ran: never replaced.
    refused = cli(root, "snapshot", "old", check=False)
    assert refused.returncode == 4 and "finished" in refused.stderr


def test_clean_trees_keeps_what_runs_still_need(tmp_path: Path):
    root = make_shared_workspace(tmp_path / "ws", "tree")
    cli(root, "new", "fresh", "--recipe", "sp")
    cli(root, "new", "gone", "--recipe", "sp")
    shutil.rmtree(root / "runs" / "gone")  # a deleted run leaves an orphan tree
    (root / ".expctl" / "trees" / "foreign").mkdir()  # not expctl's: never touched
    named = cli(root, "clean-trees", "fresh", check=False)
    assert named.returncode == 4 and "never launched" in named.stderr
    everything = cli(root, "clean-trees")
    assert "removed the tree of gone" in everything.stderr
    assert (root / ".expctl" / "trees" / "fresh").is_dir()
    assert (root / ".expctl" / "trees" / "foreign").is_dir()
    assert not (root / ".expctl" / "trees" / "gone").exists()
