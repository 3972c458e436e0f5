"""`expctl report` at scale: 100 runs x 10,000 steps x 5 series, one whole `expctl` process.

    python bench/bench_report.py            # 100 runs (the target)
    python bench/bench_report.py --quick    # 20 runs

Runs are brought in through `expctl import` (metrics and params), then each gets a
metrics.jsonl in expctl.track's format (step, time and 5 series per line; about 1.2 MB a run).
One run's loss has a single spike. Targets (2 cores): report written in < 10 s and < 20 MB,
and the spike's value present in the page (downsampling keeps every bucket's extremes).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXPCTL = str(Path(sys.executable).with_name("expctl"))
STEPS = 10_000
SERIES = ("loss", "lr", "grad_norm", "val_map", "throughput")
SPIKE = 987.654321  # written once, at one step of one run
TARGET_S, TARGET_MB = 10.0, 20.0


def build(root: Path, runs: int) -> None:
    from expctl.workspace import init_workspace

    init_workspace(root)
    settings = root / "expctl.yaml"
    settings.write_text(settings.read_text()
                        + "\nbaseline: run_000\nleaderboard: {metric: val_map}\n", encoding="utf-8")
    rnd = random.Random(runs)
    rows = [{"id": f"run_{i:03d}", "metrics": {"val_map": round(rnd.uniform(0.2, 0.5), 4)},
             "params": {"lr": rnd.choice([0.001, 0.003]), "seed": i}} for i in range(runs)]
    table = root / "runs.jsonl"
    table.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    subprocess.run([EXPCTL, "import", str(table)], cwd=root, check=True, capture_output=True)
    for i, row in enumerate(rows):
        lines = []
        for step in range(STEPS):
            t = step / STEPS
            record = {"step": step, "time": round(1.7e9 + step * 0.5, 3),
                      "loss": 2.0 * math.exp(-3 * t) + rnd.random() * 0.05,
                      "lr": 0.001 * (1 - t), "grad_norm": 1.0 + rnd.random(),
                      "val_map": 0.4 * (1 - math.exp(-4 * t)), "throughput": 100 + rnd.random()}
            if i == runs // 2 and step == 6_543:
                record["loss"] = SPIKE
            lines.append(json.dumps(record))
        (root / "runs" / row["id"] / "metrics.jsonl").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 runs instead of 100")
    args = parser.parse_args()
    runs = 20 if args.quick else 100
    with tempfile.TemporaryDirectory(prefix="expctl-bench-report-") as tmp:
        root = Path(tmp) / "ws"
        root.mkdir()
        started = time.perf_counter()
        build(root, runs)
        print(f"built {runs} runs x {STEPS} steps x {len(SERIES)} series in "
              f"{time.perf_counter() - started:.1f} s")
        out = Path(tmp) / "report.html"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([EXPCTL, "report", "-o", str(out)], cwd=root,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            print(done.stderr)
            sys.exit(1)
        size_mb = out.stat().st_size / 1e6
        spike = repr(SPIKE) in out.read_text(encoding="utf-8")
    ok = seconds < TARGET_S and size_mb < TARGET_MB and spike
    print(f"report of {runs} runs: {seconds:.2f} s (target < {TARGET_S:.0f} s), "
          f"{size_mb:.1f} MB (target < {TARGET_MB:.0f} MB), spike kept: {spike}")
    # On a shared machine the wall time says more about the neighbours than about expctl.
    print(f"  cpu {cpu:.2f} s (user + sys); load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    print("ok" if ok else "MISSED A TARGET")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
