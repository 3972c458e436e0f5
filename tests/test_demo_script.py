"""scripts/demo.sh (`make demo`) ends in a commit: it makes a git workspace of its own, runs both
cycles with --commit and shows the commit. Checked with the repository's real script, recipes
and settings, and a stand-in for models/ (the real training takes minutes) that writes what
models.train and models.evaluate write: a checkpoint, metrics.json, a confusion matrix."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from standins.kit import child_env, git

ROOT = Path(__file__).resolve().parents[1]

STAND_IN_TRAIN = """\
import os, sys
from pathlib import Path
args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
steps = int(args["train.max_steps"])
print(f"step {steps}/{steps} loss 0.1", flush=True)
Path(os.environ["EXPCTL_RUN_DIR"], "checkpoints", f"ckpt_step{steps}.pt").write_bytes(b"w")
"""

STAND_IN_EVALUATE = """\
import json, os, sys
from pathlib import Path
args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
run = Path(os.environ["EXPCTL_RUN_DIR"])
aware = args.get("loss.size_aware") == "true"
names = ("map", "ap50", "ap75", "map_small", "map_medium", "map_large", "ar100", "small_map")
metrics = {n: 0.4 - 0.01 * aware for n in names}
(run / "validation_results" / "metrics.json").write_text(json.dumps(metrics))
(run / "confusion_matrices" / "confusion_matrix_eval_step1.png").write_bytes(b"png")
"""


def stand_in_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "demo.sh", repo / "scripts" / "demo.sh")
    shutil.copytree(ROOT / "recipes", repo / "recipes")
    shutil.copy2(ROOT / "expctl.yaml", repo / "expctl.yaml")
    (repo / "models").mkdir()
    (repo / "models" / "__init__.py").write_text("")
    (repo / "models" / "train.py").write_text(STAND_IN_TRAIN)
    (repo / "models" / "evaluate.py").write_text(STAND_IN_EVALUATE)
    return repo


def demo(repo: Path) -> subprocess.CompletedProcess:
    env = child_env(DEMO_STEPS="6", PATH=f"{Path(sys.executable).parent}{os.pathsep}"
                    f"{os.environ['PATH']}", EXPCTL_DATA_CACHE=str(repo / ".cache"))
    done = subprocess.run(["bash", str(repo / "scripts" / "demo.sh")], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_the_demo_ends_in_a_commit_and_reuses_its_workspace(tmp_path: Path):
    repo = stand_in_repo(tmp_path)
    ws = repo / "demo" / "workspace"
    first = demo(repo)
    assert "== 4/4 the commit expctl made" in first.stdout
    assert "feat: complete 3scale_sizeaware experiment" in first.stdout  # git log -1 --stat
    assert "runs/3scale_sizeaware/experiment_results.json" in first.stdout
    subjects = git(ws, "log", "--format=%s").splitlines()
    assert subjects == ["feat: complete 3scale_sizeaware experiment",
                        "feat: complete 3scale_baseline experiment",
                        "demo workspace: the built-in example's code and recipes"]
    assert git(ws, "status", "--porcelain") == ""  # checkpoints ignored, nothing left over
    assert "models/train.py" in git(ws, "ls-files")  # the code the runs recorded is in git
    committed = git(ws, "ls-files", "runs/3scale_baseline").splitlines()
    assert "runs/3scale_baseline/run.yaml" in committed
    assert not any(p.endswith(".pt") for p in committed)

    again = demo(repo)  # reuses the runs, commits nothing twice
    assert "reusing the demo workspace" in again.stdout
    assert "nothing new to commit" in again.stderr
    assert len(git(ws, "log", "--format=%s").splitlines()) == 3
