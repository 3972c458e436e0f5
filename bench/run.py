"""Run every benchmark script (bench/bench_*.py) and summarise how each went.

    python bench/run.py                 # all of them (make bench)
    python bench/run.py --quick         # the short variants, where a script has one
    python bench/run.py registry launch # only scripts whose names contain these words

Each script runs in its own process with this interpreter and prints its own result lines;
`--quick` is passed to the scripts that accept it (their source mentions `--quick`). The exit
status is non-zero when any script failed or missed a target.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def scripts(words: list[str]) -> list[Path]:
    found = sorted(BENCH_DIR.glob("bench_*.py"))
    if words:
        found = [p for p in found if any(w in p.stem for w in words)]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short variants (e.g. 10k runs only)")
    parser.add_argument("only", nargs="*", help="run only scripts whose names contain these")
    args = parser.parse_args()
    chosen = scripts(args.only)
    if not chosen:
        raise SystemExit(f"no benchmark matches {' '.join(args.only)} in {BENCH_DIR}")
    summary = []
    for script in chosen:
        extra = ["--quick"] if args.quick and '"--quick"' in script.read_text() else []
        print(f"== {script.name} {' '.join(extra)}".rstrip(), flush=True)
        started = time.perf_counter()
        code = subprocess.run([sys.executable, str(script), *extra],
                              cwd=BENCH_DIR.parent).returncode
        summary.append((script.name, time.perf_counter() - started, code))
        print(flush=True)
    print("== summary")
    width = max(len(name) for name, _, _ in summary)
    for name, seconds, code in summary:
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"{name.ljust(width)}  {seconds:7.1f} s  {status}")
    sys.exit(0 if all(code == 0 for _, _, code in summary) else 1)


if __name__ == "__main__":
    main()
