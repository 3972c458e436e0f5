#!/usr/bin/env bash
# `make demo`: the built-in example end to end in this repository's own workspace.
# Two experiment cycles (new, launch, wait, gather, validate, record) of the synthetic
# event-camera detector, then the leaderboard and where the confusion matrices are.
#
#   make demo                   # about 6 minutes of training on a 2-core CPU
#   DEMO_STEPS=100 make demo    # shorter training for a quick look (new runs only)
#
# Running it again reuses what exists: finished phases are skipped, and says so.
# Start over with: rm -rf runs/3scale_baseline runs/3scale_sizeaware registry.db
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
# The recipes run `python -m models.train` from the workspace root: use the project's venv.
export PATH="$repo/.venv/bin:$PATH"
runs=(3scale_baseline 3scale_sizeaware)

sets=()
if [ -n "${DEMO_STEPS:-}" ]; then sets=(--set "train.max_steps=$DEMO_STEPS"); fi

step=1
for run in "${runs[@]}"; do
  if [ -f "runs/$run/experiment_results.json" ]; then
    echo "== $step/3 $run: already trained and recorded, reusing it (delete runs/$run to train again)"
  else
    echo "== $step/3 expctl cycle $run --local"
  fi
  expctl cycle "$run" --local ${sets[@]+"${sets[@]}"}
  step=$((step + 1))
done

echo
echo "== 3/3 expctl leaderboard (baseline: 3scale_baseline; see expctl.yaml)"
expctl leaderboard
echo
echo "confusion matrices (validation of the final checkpoint; training ones beside them):"
for run in "${runs[@]}"; do
  ls -1 "runs/$run/confusion_matrices/"confusion_matrix_eval_*.png 2>/dev/null | sed 's/^/  /'
done
echo
echo "next: source .venv/bin/activate; expctl ls; expctl show 3scale_sizeaware;"
echo "      expctl compare 3scale_baseline 3scale_sizeaware; expctl leaderboard --metric small_map"
