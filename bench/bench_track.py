"""Cost of one `expctl.track.log` call inside a run, and outside expctl (a no-op).

    python bench/bench_track.py [--calls N] [--quick]

Target: under 5 µs per call. The flush thread's writes are included in the measured time
(they run while the loop does), and the file is checked afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

TARGET_US = 5.0

LOOP = """
import sys, time
from expctl import track
calls = int(sys.argv[1])
track.log({"warm": 1})
rounds = []
for _ in range(5):
    t0 = time.perf_counter()
    for i in range(calls):
        track.log({"loss": 0.25, "lr": 3e-4, "acc": 0.9}, step=i)
    rounds.append((time.perf_counter() - t0) / calls * 1e6)
print(" ".join(f"{r:.3f}" for r in rounds))
"""


def measure(calls: int, run_dir: Path | None) -> list[float]:
    """µs per call for five rounds, in a fresh interpreter (the module decides once)."""
    env = {k: v for k, v in os.environ.items() if k not in ("EXPCTL_RUN_DIR", "RANK")}
    if run_dir is not None:
        env["EXPCTL_RUN_DIR"] = str(run_dir)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(LOOP), str(calls)], env=env,
                         check=True, capture_output=True, text=True).stdout
    return [float(x) for x in out.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="50,000 calls per round")
    args = parser.parse_args()
    if args.quick:
        args.calls = 50_000
    with tempfile.TemporaryDirectory(prefix="bench-track-") as tmp:
        inside = measure(args.calls, Path(tmp))
        lines = sum(1 for _ in open(Path(tmp) / "metrics.jsonl", encoding="utf-8"))
        outside = measure(args.calls, None)
    expected = 5 * args.calls + 1
    median = statistics.median(inside)
    ok = median < TARGET_US and lines == expected
    print(f"track.log in a run:  {median:.2f} µs/call (median of 5 x {args.calls} calls, "
          f"best {min(inside):.2f}) {'ok' if median < TARGET_US else 'OVER'} "
          f"(target < {TARGET_US:g} µs)")
    print(f"records written:     {lines} of {expected}")
    print(f"track.log outside:   {statistics.median(outside):.2f} µs/call (no-op)")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
