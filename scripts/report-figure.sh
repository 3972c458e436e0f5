#!/usr/bin/env bash
# docs/report.png, the README's picture of `expctl report`: the real report of the demo's
# workspace (run `make demo` first), photographed by headless chromium, offline.
#
#   scripts/report-figure.sh            # writes docs/report.png
#   DEMO_DIR=/tmp/demo scripts/report-figure.sh
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
ws="${DEMO_DIR:-$repo/demo/workspace}"
out="$repo/docs/report.png"
if [ ! -f "$ws/runs/3scale_sizeaware/experiment_results.json" ]; then
  echo "no recorded demo runs in $ws: run \`make demo\` first" >&2
  exit 3
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$repo/.venv/bin/expctl" -C "$ws" report -o "$tmp/report.html"
# No network: the report must draw from its own file (no proxy reachable, no name resolves).
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --proxy-server=127.0.0.1:9 --host-resolver-rules="MAP * ~NOTFOUND" \
  --user-data-dir="$tmp/profile" --virtual-time-budget=10000 --window-size=1100,1000 \
  --screenshot="$out" "file://$tmp/report.html" 2>/dev/null
echo "wrote $out"
