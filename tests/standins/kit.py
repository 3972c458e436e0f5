"""Helpers for the phase tests: a throw-away workspace in a real git repository, recipes that
drive the stand-in scripts of this folder (written in real tools' output formats), and
`expctl` run as a real process (tests/helpers.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import helpers
from helpers import git, run_expctl  # noqa: F401 - the phase tests import git from here

PY = sys.executable
FIXTURES = Path(__file__).resolve().parent


def child_env(**extra: str) -> dict[str, str]:
    """The shared child environment, wide enough for the phase tables these tests read."""
    return helpers.child_env(**{"COLUMNS": "200", **extra})


def make_workspace(root: Path, recipes: dict[str, str], settings: str = "") -> Path:
    """A git repository made an expctl workspace, with `recipes` and a `work/` folder where
    the stand-in scripts run (their shared output folders live there)."""
    from expctl.workspace import init_workspace

    git(root, "init", "-q", "-b", "main")
    init_workspace(root)
    if settings:
        path = root / "expctl.yaml"
        path.write_text(path.read_text() + settings)
    for name, text in recipes.items():
        (root / "recipes" / f"{name}.yaml").write_text(text)
    (root / "work").mkdir()
    (root / "work" / ".keep").write_text("")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "workspace")
    return root


def cli(root: Path, *args: str, check: bool = True, timeout: float = 120):
    """`expctl -C root ARGS` as a process; output is shown when a check fails."""
    return run_expctl("-C", str(root), *args, cwd=root, env=child_env(), timeout=timeout,
                      expect=0 if check else None)


def results(root: Path, run_id: str) -> dict:
    return json.loads((root / "runs" / run_id / "experiment_results.json").read_text())


HYDRA_RECIPE = """\
description: stand-in for a Lightning + Hydra detector (RVT)
model: 3-scale FPN stand-in with a YOLOX head
command: >-
  {py} {fixtures}/hydra_train.py {{overrides}} run_tag={{run_id}}
  +experiment/gen4=default.yaml
steps_param: training.max_steps
params:
  training: {{max_steps: 6}}
  steps_per_epoch: 3
  starts_file: {starts}
  gate_file: ""
  fail_with: ""
launch: {{workdir: work}}
validate:
  command: >-
    {py} {fixtures}/hydra_validate.py checkpoint={{checkpoint}} dataset.path=data
    +model.head.num_classes=8 expected_file={{run_dir}}/expected.json
artifacts:
  checkpoint:
    glob: dummy/*/checkpoints/*.ckpt
    required: true
  confusion_train:
    glob: confM/*.png
    dest: confusion_matrices/training
  confusion_val:
    glob: confM/*.png
    phase: validate
    dest: confusion_matrices/validation
metrics:
  primary: map
  small: small_map
  sources:
    - kind: coco
      path: validation_results/validation_output.log
      groups: {{small_map: [2, 3, 4]}}
criteria:
  small_map: ">= 0.10"
"""


def hydra_recipe(starts: Path) -> str:
    return HYDRA_RECIPE.format(py=PY, fixtures=FIXTURES, starts=starts)


ARGPARSE_RECIPE = """\
description: stand-in for an argparse fairness study (DETR + FAAP)
model: DETR with a score-contrastive fairness adapter
command: ["{py}", "{fixtures}/argparse_train.py", "--epochs", "{{epochs}}",
          "--output_dir", "outputs", "--device", "cpu", "--tag", "{{run_id}}"]
steps_param: epochs
params: {{epochs: 3}}
launch: {{workdir: work}}
artifacts:
  checkpoint:
    glob: outputs/checkpoints/epoch_*.pth
    required: true
  train_log:
    glob: [outputs/train_log.jsonl, outputs/config.json, outputs/dataset_layout.json]
    dest: training_logs
metrics:
  primary: ap
  sources:
    - kind: jsonl
      path: training_logs/train_log.jsonl
      metrics: {{ap: ap, ap_gap: ap_gap, loss_det: loss_det}}
      reduce: best
      by: ap
criteria:
  ap_gap: "< 0.11"
"""


def argparse_recipe() -> str:
    return ARGPARSE_RECIPE.format(py=PY, fixtures=FIXTURES)


TB_RECIPE = """\
description: stand-in for a depth-estimation study that logs only TensorBoard scalars
model: residual depth network with adaptive loss
command: ["{py}", "{fixtures}/tb_train.py", "--experiment_name", "{{run_id}}",
          "--epochs", "{{epochs}}", "--lambda_base", "{{lambda_base}}", "--logdir", "tb_logs"]
steps_param: epochs
params: {{epochs: 4, lambda_base: 2.0}}
launch: {{workdir: work}}
artifacts:
  tensorboard:
    glob: "tb_logs/{{run_id}}"
    dest: training_logs/tensorboard
    required: true
metrics:
  primary: val_rmse
  sources:
    - kind: tensorboard
      path: training_logs/tensorboard
      metrics: {{val_rmse: Val/RMSE, delta1: Val/Delta1, sparse_loss: Loss/sparse}}
      reduce: best
criteria:
  val_rmse: "< 2.2"
  delta1: "> 0.45"
"""


def tb_recipe() -> str:
    return TB_RECIPE.format(py=PY, fixtures=FIXTURES)
