"""The commented example recipe `expctl init` writes into an empty recipes/ folder."""

from __future__ import annotations

EXAMPLE_RECIPE_NAME = "example"

EXAMPLE_RECIPE_TEXT = """\
# An example recipe, written by `expctl init`: copy it, rename it, make it yours.
# A recipe says how to run one kind of experiment; unknown keys are errors (with file and key).
#   expctl recipes                 lists the recipes of this workspace
#   expctl new example_10k         a run of this recipe with train.max_steps = 10,000
#   expctl new try2 --recipe example --set train.lr=0.01
description: Example recipe (edit me)   # shown by `expctl recipes`
model: "my model"                        # the architecture in words, for commit messages
# extends: my_base                       # merge recipes/my_base.yaml first (this file wins)

# The training command: a list, or a string split like a shell (never run by one).
# {overrides} becomes one key=value argument per param (Hydra and nanoGPT style); {train.lr}
# is one param's value; {run_id}, {run_dir}, {workspace} and {steps} work anywhere.
command: ["python", "train.py", "{overrides}"]
steps_param: train.max_steps             # the param a run id's _10k / _2m suffix sets
resume_args: ["--resume"]                # appended by `expctl launch --resume`

params:                                  # every value can be changed per run with --set
  train:
    max_steps: 1000                      # steps to train
    lr: 0.001                            # learning rate
    batch_size: 32

launch:
  launcher: local          # local | screen | tmux | slurm (default: expctl.yaml's launcher)
  workdir: .               # where the command runs, relative to the workspace
  env: {}                  # extra environment variables, e.g. {WANDB_MODE: disabled}
  # accelerate: true       # wrap the command in `accelerate launch`
  # num_processes: 2       # processes per machine under accelerate
  # mixed_precision: bf16  # no | fp16 | bf16

# validate:                # `expctl validate` runs this on the gathered checkpoint
#   command: ["python", "evaluate.py", "checkpoint={checkpoint}", "{overrides}"]

artifacts:                 # what `expctl gather` collects, only from this run's time window
  checkpoint:              # becomes checkpoints/final_model.ckpt
    glob: "outputs/*.ckpt"
    pick: newest           # all | newest | highest_step | from_log
    required: false

metrics:
  primary: val_loss        # ranks the leaderboard; "Performance" in commit messages
  # Direction and number format are set once per metric, in expctl.yaml's `metrics:`
  # (names ending in loss, error, rmse... are lower-is-better anyway).
  sources:                 # where `expctl record` reads the final metrics
    # metrics.jsonl is what `from expctl import track; track.log({"val_loss": v}, step=s)`
    # writes in the run folder; reduce: min keeps the best value logged.
    - {kind: jsonl, path: metrics.jsonl, metrics: {val_loss: val_loss}, reduce: min}

criteria:                  # success criteria, judged by `expctl record`
  val_loss: "< 0.5"
"""
