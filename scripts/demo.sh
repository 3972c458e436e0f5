#!/usr/bin/env bash
# The built-in example end to end, unattended: two experiment cycles (train, gather, validate,
# record, commit), the leaderboard and a comparison, in a scratch workspace that is a fresh
# git repository, so the commits are real and this repository is left alone.
#
#   scripts/demo.sh [DIR]          DIR: the scratch workspace (default: $TMPDIR/expctl-demo)
#   DEMO_STEPS=100 scripts/demo.sh  shorter training for a quick look (default: the recipes' 600)
#
# Running it again continues where it stopped: finished phases are skipped.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-${TMPDIR:-/tmp}/expctl-demo}"
export PATH="$repo/.venv/bin:$PATH"
# The recipes run `python -m models.train`: the example package must be importable from there.
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"

if [ ! -d "$dir/.git" ]; then
  mkdir -p "$dir"
  cp -r "$repo/recipes" "$repo/expctl.yaml" "$dir/"
  git -C "$dir" init -q -b main
  git -C "$dir" config user.name >/dev/null || git -C "$dir" config user.name "expctl demo"
  git -C "$dir" config user.email >/dev/null || git -C "$dir" config user.email "demo@expctl.invalid"
  (cd "$dir" && expctl init)  # init acts on its folder argument, not -C
  git -C "$dir" add -A
  git -C "$dir" commit -q -m "demo workspace: recipes and settings"
fi

sets=()
if [ -n "${DEMO_STEPS:-}" ]; then sets=(--set "train.max_steps=$DEMO_STEPS"); fi

echo "== 1/4 baseline: expctl cycle 3scale_baseline --local --commit"
expctl -C "$dir" cycle 3scale_baseline --local ${sets[@]+"${sets[@]}"} --commit \
  --findings "reference run for every variant"
echo "== 2/4 variant: expctl cycle 3scale_sizeaware --local --commit"
expctl -C "$dir" cycle 3scale_sizeaware --local ${sets[@]+"${sets[@]}"} --commit \
  --findings "size-aware loss against the baseline: see the deltas"
echo "== 3/4 expctl leaderboard"
expctl -C "$dir" leaderboard
echo "== 4/4 expctl compare 3scale_baseline 3scale_sizeaware"
expctl -C "$dir" compare 3scale_baseline 3scale_sizeaware
echo
git -C "$dir" log --oneline -3
echo "demo workspace: $dir"
