"""`--where` speed: a filtered top-20 over 100,000 (and 1,000,000) runs, whole `expctl` processes.

    python bench/bench_where.py              # 100k runs (first build: a minute or two)
    python bench/bench_where.py --million    # and 1M runs (first build: 10-20 min on 2 cores)
    python bench/bench_where.py --quick      # 100k runs only (what bench/run.py --quick runs)
    python bench/bench_where.py --rebuild    # build the cached registries again

The million-run registry is opt-in: on this 2-core machine building it takes far longer than
the benchmark itself (once; it is cached afterwards).

Each registry (bench/.work/where_<N>/, git-ignored, cached) is built directly in SQLite: the
workspace's registry is created by expctl's own schema and migrations (open_registry), then
filled with bulk executemany inserts of runs, params and metrics, with no run folders. Importing
a million runs through `expctl import` is not what is measured here (bench_registry.py times
imports). Because `ls` and `leaderboard` drop the rows of run folders that vanished, the build
records runs/ as fully indexed (expctl.registry.freshness.mark_in_step) once it is filled.

Every timing is a fresh `expctl` process after one untimed warm-up; the ids it prints are
checked against the same filter computed in plain Python from the generated data. Targets
(2 cores): < 0.3 s at 100k runs, < 0.5 s at 1M runs, wall time; the CPU time (user + system)
is printed beside it, since on a shared machine the wall time also counts waiting for a core.
Exits non-zero when one is over or wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
EXPCTL = str(Path(sys.executable).with_name("expctl"))
DATA_VERSION = "1"  # bump when the generated data changes, so caches are rebuilt
STATUSES = ("finished",) * 6 + ("failed", "failed", "killed", "imported")
RECIPES = ("baseline", "sizeaware", "enhanced")
LRS = (0.001, 0.01, 0.1)
TARGETS = {100_000: 0.3, 1_000_000: 0.5}
STAMP = "2026-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class Run:
    id: str
    recipe: str
    status: str
    created_ts: float
    metrics: dict[str, float]
    params: dict[str, float | str]


def generate(count: int):
    """`count` runs, reproducibly: 4 metrics (1 run in 20 lacks small_map), 8 params."""
    rnd = random.Random(count)
    for i in range(count):
        metrics = {"map": round(rnd.uniform(0.05, 0.6), 5),
                   "small_map": round(rnd.uniform(0.02, 0.3), 5),
                   "ap50": round(rnd.uniform(0.1, 0.8), 5),
                   "val_loss": round(rnd.uniform(0.5, 3.0), 4)}
        if i % 20 == 7:
            del metrics["small_map"]
        params = {"train.lr": LRS[i % 3], "train.batch": rnd.choice((4, 6, 8)),
                  "arch": rnd.choice(("3scale", "4scale")), "seed": i,
                  **{f"p{k}": round(rnd.uniform(0, 1), 4) for k in range(4)}}
        yield Run(f"run_{i:07d}", RECIPES[i % 3], STATUSES[rnd.randrange(len(STATUSES))],
                  1_700_000_000 + i * 60.0, metrics, params)


def build_registry(count: int, rebuild: bool) -> Path:
    """A workspace whose registry holds `count` runs (built once, cached)."""
    root = WORK / f"where_{count}"
    marker = root / ".bench-complete"
    if not rebuild and marker.exists() and marker.read_text() == DATA_VERSION:
        return root
    print(f"building the {count:,}-run registry in {root} (once; cached afterwards)...",
          flush=True)
    started = time.perf_counter()
    from expctl.registry.freshness import changed_folders, mark_in_step
    from expctl.registry.migrations import open_registry
    from expctl.workspace import Workspace, init_workspace

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    init_workspace(root)
    ws = Workspace(root)
    ws.runs_dir.mkdir(exist_ok=True)
    with open_registry(ws) as db:
        key = db.key
        conn = db.conn  # a SqliteDatabase: bulk inserts on its own connection
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")  # 1 GB: index inserts stay in memory
        conn.execute("BEGIN")
        runs, params, metrics = [], [], []
        for n, run in enumerate(generate(count), 1):
            runs.append((key, run.id, str(root), run.recipe, run.status, STAMP, run.created_ts,
                         run.status == "imported", 100_000, "map", STAMP))
            params.extend((key, run.id, name, json.dumps(v) if not isinstance(v, str) else v,
                           None if isinstance(v, str) else float(v))
                          for name, v in run.params.items())
            metrics.extend((key, run.id, name, v) for name, v in run.metrics.items())
            if n % 50_000 == 0 or n == count:
                conn.executemany(
                    "INSERT INTO runs (workspace, id, workspace_path, recipe, status, created,"
                    " created_ts, imported, steps, primary_metric, indexed_at, git_dirty)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)", runs)
                conn.executemany("INSERT INTO params (workspace, run_id, name, value_text,"
                                 " value_num) VALUES (?, ?, ?, ?, ?)", params)
                conn.executemany("INSERT INTO metrics (workspace, run_id, name, value)"
                                 " VALUES (?, ?, ?, ?)", metrics)
                runs, params, metrics = [], [], []
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        mark = changed_folders(ws, db)[2]  # its rows have no folders: keep them all
    if mark is not None:
        mark_in_step(ws, mark)
    marker.write_text(DATA_VERSION)
    print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    return root


def timed(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall time, CPU time and stdout of one whole `expctl` process; fails loudly if it fails.

    Python may cache bytecode (PYTHONDONTWRITEBYTECODE dropped), as in a user's install:
    recompiling expctl's modules on every start is not what a user waits for."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("EXPCTL_") and k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([EXPCTL, *args], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:
        raise SystemExit(f"`expctl {' '.join(args)}` failed: {done.stderr.strip()}")
    return elapsed, cpu, done.stdout


def median_of(args: list[str], cwd: Path, repeat: int) -> tuple[float, float, str]:
    """Median wall and CPU time of `repeat` runs after one warm-up, and the output."""
    out = timed(args, cwd)[2]  # warm-up: the file's pages in the OS cache, as for a user
    runs = [timed(args, cwd) for _ in range(repeat)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), out)


def expected_board(count: int, top: int) -> list[str]:
    """The top ids by map among finished runs with map > 0.3 (ties by id), computed in Python."""
    chosen = [(-r.metrics["map"], r.id) for r in generate(count)
              if r.metrics["map"] > 0.3 and r.status == "finished"]
    return [run_id for _, run_id in sorted(chosen)[:top]]


def expected_ls(count: int, limit: int) -> list[str]:
    """The newest ids among runs with train.lr <= 0.01 whose status is not failed."""
    chosen = [r.id for r in generate(count)
              if r.params["train.lr"] <= 0.01 and r.status != "failed"]
    return chosen[::-1][:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 runs only")
    parser.add_argument("--million", action="store_true", help="1,000,000 runs too")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each command")
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached registries")
    args = parser.parse_args()
    sizes = (100_000, 1_000_000) if args.million and not args.quick else (100_000,)
    over: list[str] = []
    for count in sizes:
        ws = build_registry(count, args.rebuild)
        target, n = TARGETS[count], f"{count // 1000:,}k"
        checks = [
            (["leaderboard", "--metric", "map", "--top", "20", "--where", "map>0.3",
              "--where", "status=finished", "--format", "json"], expected_board(count, 20)),
            (["ls", "--limit", "20", "--where", "train.lr<=0.01", "--where", "status!=failed",
              "--format", "json"], expected_ls(count, 20)),
        ]
        for command, wanted in checks:
            seconds, cpu, out = median_of(command, ws, args.repeat)
            got = [row["id"] for row in json.loads(out)]
            ok = got == wanted and seconds < target
            if not ok:
                over.append(f"{command[0]} ({n})")
            shown = " ".join(a if " " not in a else repr(a) for a in command[1:-2])
            print(f"expctl {command[0]} {shown} ({n} runs)\n    {seconds:6.3f} s  cpu "
                  f"{cpu:6.3f} s  (median of {args.repeat}; target < {target:g} s), ids "
                  f"{'correct' if got == wanted else 'WRONG'}  {'ok' if ok else 'OVER'}",
                  flush=True)
        help_wall, help_cpu, _ = median_of(["--help"], ws, args.repeat)
        print(f"    for scale: expctl --help  {help_wall:6.3f} s  cpu {help_cpu:6.3f} s",
              flush=True)
        if help_wall > 1.5 * help_cpu:
            print("    note: the machine is busy (a process waits for a core longer than it "
                  "runs); the CPU times say what the commands cost", flush=True)
    if over:
        print(f"over target or wrong: {', '.join(over)}")
        sys.exit(1)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # `from expctl...` when run from a checkout without install
    main()
