"""Three runs of one workspace at once (screen, tmux, local) whose stand-in scripts write to
the same fixed relative paths; used with private trees and with `isolation: none`.

Timeline (every wait polls a condition; the scripts hold at gates the driver opens):
  1. a (screen), b (tmux), c (local) start together. a writes its final checkpoint and keeps
     working (a test-set pass) until released; b trains one epoch and holds; c finishes.
  2. a is released and ends; a and c are gathered.
  3. a validates slowly (in the foreground of another process); meanwhile b is released and
     writes its second epoch (checkpoints, confM/, train_log.jsonl, tb/).
  4. b is gathered; b and c validate; each validation gathers and records.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from launchkit import wait_until
from standins.kit import FIXTURES, PY, child_env, cli, git, make_workspace

QUALITY = {"a": 0.30, "b": 0.50, "c": 0.40}
LAUNCHERS = {"a": "--screen", "b": "--tmux", "c": "--local"}

RECIPE = """\
description: a Lightning-style stand-in writing to fixed relative paths
command: ["{py}", "../shared_paths_train.py", "run_tag={{run_id}}", "quality={{quality}}",
          "epochs=2", "steps_per_epoch=2", "linger_gate={{linger_gate}}",
          "hold_gate={{hold_gate}}"]
steps_param: max_steps
params: {{max_steps: 4, quality: 0.3, linger_gate: "", hold_gate: "", val_gate: ""}}
isolation: {isolation}
launch: {{workdir: work, links: [data]}}
validate:
  command: ["{py}", "../shared_paths_validate.py", "checkpoint={{checkpoint}}",
            "quality={{quality}}", "gate={{val_gate}}"]
artifacts:
  checkpoint: {{glob: "dummy/*/checkpoints/*step={{steps}}*.ckpt", required: true}}
  train_matrices: {{glob: "confM/*.png", dest: confusion_matrices/training}}
  val_matrices: {{glob: "confM/*.png", phase: validate, dest: confusion_matrices/validation}}
metrics:
  primary: test_ap
  sources:
    - {{kind: jsonl, path: "{{workdir}}/train_log.jsonl", metrics: {{best_val_ap: val_ap}},
       reduce: max}}
    - {{kind: tensorboard, path: "{{workdir}}/tb", metrics: {{min_loss: train/loss}},
       reduce: min}}
    - {{kind: regex, path: validation_results/validation_output.log,
       metrics: {{test_ap: "AP: ([0-9.]+)"}}}}
"""


def expected_metrics(run_id: str) -> dict[str, float]:
    """What each run's own files say (see shared_paths_train.py and _validate.py)."""
    q = QUALITY[run_id]
    return {"best_val_ap": q + 0.01, "min_loss": 1.0 - q, "test_ap": round(q + 0.05, 4)}


def make_shared_workspace(root: Path, isolation: str) -> Path:
    """A git workspace holding the stand-ins (committed), a git-ignored data folder (linked
    into trees) and an untracked file."""
    root.mkdir()
    make_workspace(root, {"sp": RECIPE.format(py=PY, isolation=isolation)})
    for name in ("shared_paths_train.py", "shared_paths_validate.py"):
        shutil.copy(FIXTURES / name, root / name)
    (root / "data").mkdir()
    (root / "data" / "dataset.txt").write_text("events-v1\n")
    with open(root / ".gitignore", "a") as f:
        f.write("data/\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "stand-ins")
    (root / "extra.txt").write_text("untracked-v1\n")
    return root


def until(condition: Callable[[], object], what: str, timeout: float = 90) -> object:
    """Poll `condition` until it is true; fail naming `what` after `timeout` seconds."""
    return wait_until(condition, timeout, what, interval=0.05)


def ended(root: Path, run_id: str) -> bool:
    path = root / "runs" / run_id / "training_logs" / "job.json"
    try:
        return json.loads(path.read_text()).get("state") == "ended"
    except (OSError, ValueError):
        return False


def own_checkpoint(root: Path, run_id: str) -> Path:
    """The run's final checkpoint, found by its content among the shared workspace's files."""
    for path in (root / "work" / "dummy").glob("*/checkpoints/*step=4.ckpt"):
        if json.loads(path.read_text())["tag"] == run_id:
            return path
    raise AssertionError(f"no checkpoint of {run_id} in the workspace")


class Gates:
    """Files the stand-ins wait for; opening all of them lets every job end."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir()

    def path(self, name: str) -> Path:
        return self.folder / name

    def waiting(self, name: str) -> bool:
        return (self.folder / f"{name}.waiting").exists()

    def open(self, name: str) -> None:
        (self.folder / name).write_text("go\n")

    def open_all(self) -> None:
        for name in ("a_linger", "b_hold", "a_val"):
            self.open(name)


Outcomes = dict[str, subprocess.CompletedProcess]


def drive(root: Path, gates: Gates, by_hand: bool = False) -> Outcomes:
    """Run the timeline above; returns every gather, validate and launch outcome by name.
    With `by_hand`, a run whose gather refused gets its own checkpoint copied in by hand
    (what the refusal's hint says), so that its validation still runs."""
    out: Outcomes = {}
    sets = {"a": ["--set", f"linger_gate={gates.path('a_linger')}",
                  "--set", f"val_gate={gates.path('a_val')}"],
            "b": ["--set", f"hold_gate={gates.path('b_hold')}"], "c": []}
    for run_id in "abc":
        cli(root, "new", run_id, "--recipe", "sp", "--set", f"quality={QUALITY[run_id]}",
            *sets[run_id])
    for run_id in "abc":
        out[f"launch {run_id}"] = cli(root, "launch", run_id, LAUNCHERS[run_id])
    until(lambda: ended(root, "c"), "c to finish")
    until(lambda: gates.waiting("a_linger"), "a to write its final checkpoint")
    until(lambda: gates.waiting("b_hold"), "b to hold after its first epoch")
    gates.open("a_linger")
    until(lambda: ended(root, "a"), "a to finish its test pass")

    def gather(run_id: str) -> None:
        out[f"gather {run_id}"] = done = cli(root, "gather", run_id, check=False)
        if done.returncode != 0 and by_hand:
            final = root / "runs" / run_id / "checkpoints" / "final_model.ckpt"
            shutil.copy(own_checkpoint(root, run_id), final)

    gather("a")
    gather("c")
    # a validates slowly while b writes its second epoch into the same relative paths.
    slow = subprocess.Popen([PY, "-m", "expctl", "-C", str(root), "validate", "a"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_env())
    try:
        until(lambda: gates.waiting("a_val") or slow.poll() is not None, "a's validation")
        gates.open("b_hold")
        until(lambda: ended(root, "b"), "b to finish")
        gates.open("a_val")
        stdout, stderr = slow.communicate(timeout=120)
    finally:
        if slow.poll() is None:
            slow.kill()
    out["validate a"] = subprocess.CompletedProcess(slow.args, slow.returncode, stdout, stderr)
    gather("b")
    for run_id in "bc":
        out[f"validate {run_id}"] = cli(root, "validate", run_id, check=False)
    return out
