"""The workspace queue's costs: the scheduler's overhead from a slot freeing up to the next
job's first output line, `expctl queue` with 1,000 queued runs, the scheduler's CPU while
those 1,000 wait, and `expctl ls` while 100 runs are running.

    python bench/bench_queue.py [--quick]

Targets: overhead under 1 s (median over a chain of runs on one slot, minus the job's own
start-up measured directly), `expctl queue` under 0.3 s, `ls` under 0.3 s; the scheduler's
CPU is reported (share of one core while 1,000 runs wait: paused, then behind a busy slot).
The 100 running runs, and the run holding the slot, are real: each run's exit record names a
live `sleep` process as its supervisor and job, so every liveness check looks at a real
process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from expctl.launchers.jobfiles import identity  # noqa: E402
from expctl.phases.new import create_run  # noqa: E402
from expctl.queue import store  # noqa: E402
from expctl.rundir import now_iso, write_json_atomic  # noqa: E402
from expctl.workspace import init_workspace  # noqa: E402

EXPCTL = str(Path(sys.executable).with_name("expctl"))
OVERHEAD_TARGET_S, QUEUE_TARGET_S, LS_TARGET_S = 1.0, 0.3, 0.3
JOB = ("import sys, time, os, json\n"
       "print('first line', flush=True)\n"
       "time.sleep(float(sys.argv[1]))\n"
       "open(os.environ['EXPCTL_RUN_DIR'] + '/exited', 'w').write(json.dumps(time.time()))\n")


def workspace(settings: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    init_workspace(root)
    (root / "expctl.yaml").write_text(settings)
    (root / "job.py").write_text(JOB)
    (root / "recipes" / "job.yaml").write_text(json.dumps({
        "command": [sys.executable, "{workspace}/job.py", "{seconds}"],
        "params": {"seconds": 0.5}}))
    return root


def cli(root: Path, *args: str) -> float:
    return cli_cpu(root, *args)[0]


def cli_cpu(root: Path, *args: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command itself): on a machine shared with other
    work the CPU time says what the command costs, the wall time what one waits."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([EXPCTL, *args], cwd=root, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                   env={**os.environ, "EXPCTL_WORKSPACE": str(root)})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def medians(root: Path, *args: str, times: int = 5) -> tuple[float, float]:
    """Median wall and median CPU seconds of `times` runs of the command."""
    runs = [cli_cpu(root, *args) for _ in range(times)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def first_line_at(log: Path, timeout: float = 60.0) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if log.read_bytes().startswith(b"first line"):
                return time.time()
        except FileNotFoundError:
            pass
        time.sleep(0.0005)
    raise SystemExit(f"no first line in {log}")


def direct_start(root: Path) -> float:
    """The job's own start-up: python to its first line, run directly."""
    out = root / "direct.log"
    times = []
    for _ in range(3):
        with open(out, "wb") as f:
            t0 = time.time()
            proc = subprocess.Popen([sys.executable, str(root / "job.py"), "0"], stdout=f,
                                    env={**os.environ, "EXPCTL_RUN_DIR": str(root)})
            times.append(first_line_at(out) - t0)
        proc.wait()
    return statistics.median(times)


def bench_overhead(count: int) -> bool:
    root = workspace("launcher: local\nqueue: {slots: 1}\n")
    try:
        ids = [f"chain{i}" for i in range(count)]
        for run_id in ids:
            create_run(Workspace(root), run_id, "job")
        own = direct_start(root)
        cli(root, "launch", *ids, "--queue")
        gaps = []
        for before, after in zip(ids, ids[1:], strict=False):
            seen = first_line_at(root / "runs" / after / "training_logs" / "stdout.log")
            exited = json.loads((root / "runs" / before / "exited").read_text())
            gaps.append(seen - exited - own)
        median, worst = statistics.median(gaps), max(gaps)
        ok = median < OVERHEAD_TARGET_S
        print(f"scheduler overhead, slot free -> next job's first line (minus the job's own "
              f"{own:.3f} s start-up): median {median:.3f} s, max {worst:.3f} s over "
              f"{len(gaps)} hand-overs (target < {OVERHEAD_TARGET_S} s) "
              f"{'ok' if ok else 'MISSED'}")
        wait_empty(root)
        return ok
    finally:
        shutil.rmtree(root, ignore_errors=True)


def wait_empty(root: Path, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while store.scheduler_running(store.queue_dir(root)) and time.time() < deadline:
        time.sleep(0.1)


def copies(root: Path, template: Path, count: int, prefix: str) -> list[Path]:
    """`count` run folders copied from `template` with their own ids (create_run per run
    would spend minutes in git snapshots that this benchmark does not measure)."""
    made = []
    info = (template / "run.yaml").read_text()
    for i in range(count):
        run_id = f"{prefix}{i:04d}"
        path = root / "runs" / run_id
        shutil.copytree(template, path)
        (path / "run.yaml").write_text(info.replace(f"id: {template.name}", f"id: {run_id}", 1))
        made.append(path)
    return made


def bench_queue_listing(count: int) -> bool:
    root = workspace("launcher: local\nqueue: {slots: 1}\n")
    try:
        template = create_run(Workspace(root), "template", "job").path
        qdir = store.queue_dir(root)
        store.set_paused(qdir, True)  # listed, not started
        for path in copies(root, template, count, "q"):
            store.write_entry(qdir, store.Entry(run_id=path.name, seq=store.arrival(),
                                                queued=now_iso(), reason="queue paused"))
        shutil.rmtree(template)
        cli(root, "queue")  # warm the page cache; wakes the (paused) scheduler
        from expctl.queue.operations import list_queue

        def listing() -> float:
            store._memo.clear()  # as a new command finds it: files or the cache file
            return best_of(lambda: list_queue(Workspace(root)))

        settled_ns, store.SETTLED_NS = store.SETTLED_NS, 10**18
        fresh = listing()  # as within SETTLED_NS of a change: every file is read
        store.SETTLED_NS = settled_ns
        time.sleep(settled_ns / 1e9)
        settled = listing()
        print(f"reading and ordering {count} queue entries, in-process (best of 5): "
              f"{fresh:.3f} s just after a change (one file each), {settled:.3f} s once "
              f"settled (the cache file)")
        median, cpu = medians(root, "queue")
        start_up, start_cpu = medians(root, "--version")
        ok = median < QUEUE_TARGET_S
        print(f"`expctl queue` with {count} queued runs (settled): median {median:.3f} s wall, "
              f"{cpu:.3f} s CPU (`expctl --version` alone: {start_up:.3f} s wall, "
              f"{start_cpu:.3f} s CPU; target < {QUEUE_TARGET_S} s) "
              f"{'ok' if ok else 'MISSED'}")
        scheduler_cpu(root, qdir)
        for name in os.listdir(qdir / "entries"):
            (qdir / "entries" / name).unlink(missing_ok=True)  # the scheduler removes some
        wait_empty(root)
        return ok
    finally:
        shutil.rmtree(root, ignore_errors=True)


def scheduler_cpu(root: Path, qdir: Path, seconds: float = 5.0) -> None:
    """The scheduler's share of one core while the queue's runs wait: paused, then resumed
    with the one slot held by a running run (a live `sleep`), so that all the others wait."""
    pid = json.loads((qdir / "scheduler.json").read_text())["pid"]
    print(f"scheduler CPU with {len(store.read_entries(qdir))} queued runs, paused: "
          f"{100 * cpu_share(pid, seconds):.1f}% of a core over {seconds:.0f} s")
    holder = store.read_entries(qdir)[0]
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        pretend_running(root / "runs" / holder.run_id, sleeper.pid)
        holder.state, holder.devices, holder.reason = "started", [0], None
        store.write_entry(qdir, holder)
        store.set_paused(qdir, False)
        settled = time.time() + 120
        while time.time() < settled and any(
                e.reason != "no free slot" for e in store.read_entries(qdir) if e is not holder
                and e.state == "queued"):
            time.sleep(0.2)  # the scheduler writes each run's new reason once
        print(f"scheduler CPU with the slot busy and the others waiting: "
              f"{100 * cpu_share(pid, seconds):.1f}% of a core over {seconds:.0f} s")
    finally:
        store.set_paused(qdir, True)
        sleeper.kill()
        sleeper.wait()


def cpu_share(pid: int, seconds: float) -> float:
    """User + system CPU time of `pid` over `seconds` of wall time, as a share of a core."""
    def used() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    before, t0 = used(), time.monotonic()
    time.sleep(seconds)
    return (used() - before) / (time.monotonic() - t0)


def pretend_running(path: Path, pid: int) -> None:
    """Launch and exit records that make the run `running`, with `pid` as supervisor and job."""
    launch_id = "bench" + path.name
    write_json_atomic(path / "launch.json", {
        "version": 1, "launch_id": launch_id, "run_id": path.name, "attempt": 1,
        "launched": now_iso(), "launcher": "local", "session": None})
    me = identity(pid)
    write_json_atomic(path / "training_logs" / "job.json", {
        "launch_id": launch_id, "state": "running", "started": now_iso(),
        "supervisor": me, "job_pid": pid, "job_start": me["pid_start"]})


def bench_ls_running(count: int) -> bool:
    root = workspace("launcher: local\n")
    sleepers = [subprocess.Popen(["sleep", "600"]) for _ in range(count)]
    try:
        template = create_run(Workspace(root), "template", "job").path
        paths = copies(root, template, count, "live")
        shutil.rmtree(template)
        for path, proc in zip(paths, sleepers, strict=True):
            pretend_running(path, proc.pid)
        cli(root, "reindex")
        cli(root, "ls")
        running, running_cpu = medians(root, "ls")
        for path in paths:  # the same runs, ended: what `ls` costs without running runs
            job = json.loads((path / "training_logs" / "job.json").read_text())
            job.update(state="ended", exit_code=0, ended=now_iso(), elapsed_s=1.0)
            write_json_atomic(path / "training_logs" / "job.json", job)
        cli(root, "ls")
        idle, idle_cpu = medians(root, "ls")
        start_up, start_cpu = medians(root, "--version")
        ok = running < LS_TARGET_S
        print(f"`expctl ls` with {count} running runs: median {running:.3f} s wall, "
              f"{running_cpu:.3f} s CPU; the same runs ended: {idle:.3f} s wall, "
              f"{idle_cpu:.3f} s CPU, so {1000 * (running_cpu - idle_cpu) / count:.2f} ms CPU "
              f"per running run (`expctl --version` alone: {start_up:.3f} s wall, "
              f"{start_cpu:.3f} s CPU; target < {LS_TARGET_S} s) {'ok' if ok else 'MISSED'}")
        return ok
    finally:
        for proc in sleepers:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)


from expctl.workspace import Workspace  # noqa: E402


def best_of(fn, times: int = 5) -> float:
    results = []
    for _ in range(times):
        t0 = time.perf_counter()
        fn()
        results.append(time.perf_counter() - t0)
    return min(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer hand-overs and runs")
    args = parser.parse_args()
    results = [bench_overhead(4 if args.quick else 8),
               bench_queue_listing(1000),
               bench_ls_running(100)]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
