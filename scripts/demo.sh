#!/usr/bin/env bash
# `make demo`: the built-in example end to end, ending in a git commit of each run.
#
# This repository's own .gitignore keeps runs/ out of git, so `expctl commit` cannot work here.
# The demo therefore makes a workspace of its own, demo/workspace (git-ignored here): a fresh
# git repository holding a copy of models/, recipes/ and expctl.yaml. In it, two experiment
# cycles (new, launch, wait, gather, validate, record, commit) of the synthetic event-camera
# detector, then the leaderboard, the confusion matrices and the last commit (`git log -1 --stat`).
#
#   make demo                     # two 300-step trainings: minutes on an idle 2-core CPU
#   DEMO_STEPS=100 make demo      # shorter training for a quick look (new runs only)
#   DEMO_DIR=/tmp/demo make demo  # the demo workspace elsewhere
#
# Running it again reuses the workspace: finished phases are skipped, and says so; a run whose
# files are committed is not committed twice. Start over with: rm -rf demo/
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
ws="${DEMO_DIR:-$repo/demo/workspace}"
# The recipes run `python -m models.train` from the workspace root: use the project's venv.
export PATH="$repo/.venv/bin:$PATH"
# The generated data set is cached once for this repository, not once per demo workspace.
export EXPCTL_DATA_CACHE="${EXPCTL_DATA_CACHE:-$repo/.cache/expctl-data}"
runs=(3scale_baseline 3scale_sizeaware)

if [ ! -d "$ws/.git" ]; then
  echo "== 0/4 a demo workspace in $ws: a git repository with the example's code and recipes"
  mkdir -p "$ws"
  cp -R "$repo/models" "$repo/recipes" "$repo/expctl.yaml" "$ws/"
  rm -rf "$ws/models/__pycache__"
  git -C "$ws" init -q -b main
  # Commits need an identity; the demo repository gets one of its own when git has none.
  git -C "$ws" config user.name >/dev/null || git -C "$ws" config user.name "expctl demo"
  git -C "$ws" config user.email >/dev/null || git -C "$ws" config user.email "demo@expctl.invalid"
  printf '__pycache__/\n' > "$ws/.gitignore"
  expctl -C "$ws" init          # adds registry.db, .expctl/ and checkpoints to .gitignore
  git -C "$ws" add -A
  git -C "$ws" commit -q -m "demo workspace: the built-in example's code and recipes"
else
  echo "== 0/4 reusing the demo workspace $ws"
fi
cd "$ws"

sets=()
if [ -n "${DEMO_STEPS:-}" ]; then sets=(--set "train.max_steps=$DEMO_STEPS"); fi

step=1
for run in "${runs[@]}"; do
  if [ -f "runs/$run/experiment_results.json" ]; then
    echo "== $step/4 $run: already trained and recorded, reusing it (delete $ws/runs/$run to train again)"
  else
    echo "== $step/4 expctl cycle $run --local --commit"
  fi
  expctl cycle "$run" --local --commit --findings "built-in example, make demo" \
    ${sets[@]+"${sets[@]}"}
  step=$((step + 1))
done

echo
echo "== 3/4 expctl leaderboard (baseline: 3scale_baseline; see expctl.yaml)"
expctl leaderboard
echo
echo "confusion matrices (validation of the final checkpoint; training ones beside them):"
for run in "${runs[@]}"; do
  ls -1 "runs/$run/confusion_matrices/"confusion_matrix_eval_*.png 2>/dev/null | sed 's/^/  /'
done
echo
echo "== 4/4 the commit expctl made (git log -1 --stat in $ws)"
git --no-pager log -1 --stat
echo
echo "next: source $repo/.venv/bin/activate; cd $ws; expctl ls; expctl show 3scale_sizeaware;"
echo "      expctl compare 3scale_baseline 3scale_sizeaware; expctl leaderboard --metric small_map"
