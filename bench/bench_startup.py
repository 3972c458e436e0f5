"""Start-up time with both ends of the typer range pyproject admits: whole `expctl` processes.

    python bench/bench_startup.py            # --help, ls and leaderboard over 10,000 runs
    python bench/bench_startup.py --quick    # --help and ls in an empty workspace only

The highest typer is the virtual environment's; the lowest (TYPER_LOWEST, as in the Makefile)
is installed once into .cache/typer-lowest and put in front with PYTHONPATH, as
`make test-typer-lowest` does. Targets (2 cores): --help < 0.15 s; ls and leaderboard --top 20
< 0.3 s over 10,000 runs (the workspace of bench_registry.py, built once and cached).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPCTL = str(Path(sys.executable).with_name("expctl"))
TYPER_LOWEST = os.environ.get("TYPER_LOWEST", "0.26.0")
LOWEST_DIR = ROOT / ".cache" / "typer-lowest"


def lowest_typer() -> Path:
    """The folder holding the lowest supported typer (installed there once)."""
    marker = LOWEST_DIR / f".typer-{TYPER_LOWEST}"
    if not marker.exists():
        shutil.rmtree(LOWEST_DIR, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                        str(LOWEST_DIR), f"typer=={TYPER_LOWEST}"], check=True)
        marker.touch()
    return LOWEST_DIR


def typer_version(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", "import typer; print(typer.__version__)"],
                          env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one `expctl` process; the CPU time does not count waiting for a
    core on a shared machine."""
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run([EXPCTL, *args], cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"`expctl {' '.join(args)}` failed: {done.stderr.strip()}")
    return wall, (after.children_user - before.children_user
                  + after.children_system - before.children_system)


def median(args: list[str], cwd: Path, env: dict[str, str], repeat: int) -> tuple[float, float]:
    timed(args, cwd, env)  # warm the page cache and the bytecode
    runs = [timed(args, cwd, env) for _ in range(repeat)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="--help and an empty ls only")
    parser.add_argument("--repeat", type=int, default=9, help="timed runs of each command")
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EXPCTL_", "PYTHONPATH"))}
    typers = [("highest", base), ("lowest", {**base, "PYTHONPATH": str(lowest_typer())})]
    empty = Path(tempfile.mkdtemp(prefix="expctl-bench-startup-"))
    subprocess.run([EXPCTL, "-C", str(empty), "init"], env=base, capture_output=True, check=True)
    cases = [("expctl --help", ["--help"], empty, 0.15),
             ("expctl ls (empty workspace)", ["ls"], empty, 0.3)]
    if not args.quick:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_registry import cached_workspace

        big, _ = cached_workspace(10_000, rebuild=False)
        cases += [("expctl ls (10k runs)", ["ls"], big, 0.3),
                  ("expctl leaderboard --metric small_map --top 20 (10k)",
                   ["leaderboard", "--metric", "small_map", "--top", "20"], big, 0.3)]
    over = []
    try:
        for label, env in typers:
            print(f"typer {typer_version(env)} ({label} supported)", flush=True)
            for what, argv, cwd, target in cases:
                wall, cpu = median(argv, cwd, env, args.repeat)
                ok = wall < target
                over += [] if ok else [f"{what} (typer {label})"]
                print(f"  {what:<54} {wall:6.3f} s  cpu {cpu:6.3f} s  (median of "
                      f"{args.repeat}; target < {target:g} s) {'ok' if ok else 'OVER'}",
                      flush=True)
    finally:
        shutil.rmtree(empty, ignore_errors=True)
    print(f"load average: {os.getloadavg()[0]:.2f}")
    if over:
        print(f"over target: {', '.join(over)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
