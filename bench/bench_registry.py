"""Registry speed at 10,000 and 100,000 runs: whole `expctl` processes, median wall time.

    python bench/bench_registry.py            # 10k and 100k runs (first build: minutes)
    python bench/bench_registry.py --quick    # 10k runs only
    python bench/bench_registry.py --rebuild  # build the cached workspaces again

Each run has 20 params and 10 metrics (1 run in 20 lacks small_map). The workspaces are built
once through `expctl import` and cached under bench/.work/ (git-ignored); building the 100k one
is itself the import benchmark (time and the peak memory of the process). Every other timing
is a fresh `expctl` process after one untimed warm-up, as a user would type it; peak memory is
the child's maximum resident set (resource.getrusage). Targets (2 cores):
--help < 0.15 s; ls and leaderboard --top 20 < 0.3 s at 10k and < 1 s at 100k; a filtered
leaderboard < 1 s at 100k; import of 10k runs < 30 s; reindex of 10k runs < 5 s;
import of 100k runs < 30 s and < 300 MB; `ls --limit 0 --format json` and
`leaderboard --top 0 --format json|csv` (and a piped table) at 100k < 0.6 s and < 100 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
EXPCTL = str(Path(sys.executable).with_name("expctl"))
DATA_VERSION = "1"  # bump when the generated data changes, so caches are rebuilt

METRICS = ("small_map", "map", "ap50", "ap75", "ap_small", "ap_medium", "ap_large", "ar_100",
           "val_loss", "fps")
P3_VALUES = (0.001, 0.01, 0.1)  # `--where p3=0.01` keeps a third of the runs


def rows(count: int) -> list[dict]:
    """`count` runs: 20 params (numbers, text, nested) and 10 metrics, reproducibly."""
    rnd = random.Random(count)
    out = []
    for i in range(count):
        params = {f"p{k}": round(rnd.uniform(0, 1), 4) for k in range(12)}
        params["p3"] = P3_VALUES[i % 3]
        params.update({"arch": rnd.choice(["3scale", "4scale"]), "batch": rnd.choice([4, 6, 8]),
                       "opt": {"name": rnd.choice(["adamw", "sgd"]), "wd": 0.05},
                       "steps": 100_000, "seed": i, "loss": {"size_aware": i % 2 == 0}})
        metrics = {name: round(rnd.uniform(0.05, 0.6), 5) for name in METRICS}
        metrics["val_loss"] = round(rnd.uniform(0.5, 3.0), 4)
        metrics["fps"] = round(rnd.uniform(20, 60), 2)
        if i % 20 == 7:
            del metrics["small_map"]
        out.append({"id": f"run_{i:06d}", "metrics": metrics, "params": params})
    return out


def jsonl_file(count: int) -> Path:
    path = WORK / f"runs_{count}_v{DATA_VERSION}.jsonl"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows(count)), encoding="utf-8")
        tmp.replace(path)
    return path


def fresh_workspace(path: Path) -> Path:
    from expctl.workspace import init_workspace

    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    init_workspace(path)
    return path


def cached_workspace(count: int, rebuild: bool) -> tuple[Path, dict]:
    """A workspace with `count` imported runs, built once by `expctl import` (timed: the
    import benchmark), and the build's figures {seconds, cpu, peak_mb}."""
    root = WORK / f"ws_{count}"
    marker = root / ".bench-complete"
    figures = root / ".bench-import.json"
    if not rebuild and marker.exists() and marker.read_text() == DATA_VERSION:
        return root, json.loads(figures.read_text()) if figures.exists() else {}
    print(f"building the {count:,}-run workspace in {root} (once; cached afterwards)...",
          flush=True)
    source = jsonl_file(count)
    ws = fresh_workspace(root)
    seconds = timed(["import", str(source)], ws)
    built = {"seconds": seconds, "cpu": CPU_SECONDS.pop(), "peak_mb": PEAK_MB.pop()}
    figures.write_text(json.dumps(built))
    marker.write_text(DATA_VERSION)
    print(f"  built in {seconds:.0f} s", flush=True)
    return root, built


CPU_SECONDS: list[float] = []  # CPU time of each timed process, read by Report.line
PEAK_MB: list[float] = []  # peak resident memory of each timed process, read by Report.line


def timed(args: list[str], cwd: Path) -> float:
    """Wall time of one whole `expctl` process; fails loudly if the command fails.

    Its CPU time (user + system) is kept too: on a shared machine the wall time also counts
    waiting for a core, the CPU time does not."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPCTL_")}
    started = time.perf_counter()
    # Output to files, not pipes held in memory: a 100k-run listing is tens of megabytes.
    # wait4 gives this child's own rusage (RUSAGE_CHILDREN's ru_maxrss is the largest child
    # so far, not this one's).
    with open(WORK / "stdout.tmp", "wb") as out, open(WORK / "stderr.tmp", "w+b") as err:
        proc = subprocess.Popen([EXPCTL, *args], cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        message = err.read().decode(errors="replace").strip()
    elapsed = time.perf_counter() - started
    CPU_SECONDS.append(usage.ru_utime + usage.ru_stime)
    PEAK_MB.append(usage.ru_maxrss / 1024)  # kilobytes on Linux
    if proc.returncode != 0:
        raise SystemExit(f"`expctl {' '.join(args)}` failed: {message}")
    return elapsed


def median_of(args: list[str], cwd: Path, repeat: int, warm_up: bool = True) -> float:
    if warm_up:
        timed(args, cwd)
    CPU_SECONDS.clear()
    PEAK_MB.clear()
    return statistics.median(timed(args, cwd) for _ in range(repeat))


class Report:
    def __init__(self) -> None:
        self.over: list[str] = []

    def line(self, what: str, seconds: float, target: float, repeat: int,
             mb_target: float | None = None) -> None:
        """One figure: median wall and CPU time, and peak memory when it has a target."""
        cpu = statistics.median(CPU_SECONDS) if CPU_SECONDS else float("nan")
        peak = max(PEAK_MB) if PEAK_MB else float("nan")
        CPU_SECONDS.clear()
        PEAK_MB.clear()
        ok = seconds < target and (mb_target is None or peak < mb_target)
        if not ok:
            self.over.append(what)
        memory = "" if mb_target is None else f"  peak {peak:5.0f} MB (< {mb_target:g})"
        print(f"{what:<56} {seconds:7.3f} s  cpu {cpu:6.3f} s  (median of {repeat}; "
              f"target < {target:g} s){memory} {'ok' if ok else 'OVER'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 runs only")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of quick commands")
    parser.add_argument("--repeat-slow", type=int, default=3, help="timed imports/reindexes")
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached workspaces")
    args = parser.parse_args()
    sizes = (10_000,) if args.quick else (10_000, 100_000)
    report = Report()
    r = args.repeat
    report.line("expctl --help", median_of(["--help"], ROOT, r), 0.15, r)
    for count in sizes:
        ws, built = cached_workspace(count, args.rebuild)
        limit = 0.3 if count <= 10_000 else 1.0
        n = f"{count // 1000}k"
        report.line(f"expctl ls ({n} runs)", median_of(["ls"], ws, r), limit, r)
        board = ["leaderboard", "--metric", "small_map", "--top", "20"]
        report.line(f"expctl leaderboard --metric small_map --top 20 ({n})",
                    median_of(board, ws, r), limit, r)
        report.line(f"  ... --where p3=0.01 ({n})",
                    median_of([*board, "--where", "p3=0.01"], ws, r), 1.0, r)
        if count < 100_000:
            continue
        if built:  # the figures of the build, when this run built it (or a cached record)
            CPU_SECONDS.append(built["cpu"])
            PEAK_MB.append(built["peak_mb"])
            report.line(f"expctl import ({n} runs, new workspace; at build)", built["seconds"],
                        30, 1, mb_target=300)
        whole = [("expctl ls --limit 0 --format json", ["ls", "--limit", "0", "--format", "json"]),
                 *((f"expctl leaderboard --top 0 --format {f}",
                    ["leaderboard", "--metric", "small_map", "--top", "0", "--format", f])
                   for f in ("json", "csv", "table"))]
        for what, command in whole:
            report.line(f"{what} ({n})", median_of(command, ws, r), 0.6, r, mb_target=100)
    source = jsonl_file(10_000)
    imports, reindexes, import_cpu, reindex_cpu = [], [], [], []
    for i in range(args.repeat_slow):
        ws = fresh_workspace(WORK / "import_ws")
        imports.append(timed(["import", str(source)], ws))
        import_cpu.append(CPU_SECONDS.pop())
        reindexes.append(timed(["reindex"], ws))
        reindex_cpu.append(CPU_SECONDS.pop())
        print(f"  import/reindex round {i + 1}: {imports[-1]:.1f} s / {reindexes[-1]:.1f} s",
              flush=True)
    shutil.rmtree(WORK / "import_ws", ignore_errors=True)
    rs = args.repeat_slow
    CPU_SECONDS[:] = import_cpu
    PEAK_MB.clear()
    report.line("expctl import (10k runs, new workspace)", statistics.median(imports), 30, rs)
    CPU_SECONDS[:] = reindex_cpu
    report.line("expctl reindex (10k runs)", statistics.median(reindexes), 5, rs)
    if report.over:
        print(f"over target: {', '.join(report.over)}")
        sys.exit(1)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # `from expctl...` when run from a checkout without install
    main()
