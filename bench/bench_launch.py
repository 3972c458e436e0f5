"""How long `expctl launch` takes to get a job going: from running the command to the job's
first line in stdout.log, minus the job's own start-up (the same script run directly).

    python bench/bench_launch.py [--repeat N] [--quick]

Target: under 0.5 s for every launcher. Uses a temporary workspace and private screen/tmux
sockets; everything it starts is stopped at the end.
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

TARGET_S = 0.5
FIRST_LINE = b"first line\n"
SCRIPT = "import sys, time\nsys.stdout.write('first line\\n')\nsys.stdout.flush()\ntime.sleep(1)\n"


def wait_for_line(path: Path, timeout: float = 30.0) -> float:
    """The moment FIRST_LINE shows up in `path` (polled every half millisecond)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if path.read_bytes().startswith(FIRST_LINE):
                return time.perf_counter()
        except FileNotFoundError:
            pass
        time.sleep(0.0005)
    raise SystemExit(f"no first line in {path} after {timeout}s")


def direct_start(script: Path, out: Path) -> float:
    """Seconds from starting the script directly to its first line in a file."""
    out.unlink(missing_ok=True)
    with open(out, "wb") as f:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(script)], stdout=f,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        seen = wait_for_line(out)
    proc.wait()
    return seen - t0


def launched_start(expctl: str, root: Path, run_id: str, launcher: str, env: dict) -> float:
    """Seconds from running `expctl launch` to the job's first line in stdout.log."""
    log = root / "runs" / run_id / "training_logs" / "stdout.log"
    t0 = time.perf_counter()
    proc = subprocess.Popen([expctl, "launch", run_id, f"--{launcher}"], cwd=root, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    seen = wait_for_line(log)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"expctl launch failed: {err.decode()}")
    return seen - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 launches per launcher")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 3
    from expctl.phases.new import create_run
    from expctl.workspace import init_workspace

    expctl = str(Path(sys.executable).with_name("expctl"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-launch-"))
    sockets = Path(tempfile.mkdtemp(prefix="exb-", dir="/tmp"))
    (sockets / "s").mkdir(mode=0o700)
    env = {**os.environ, "SCREENDIR": str(sockets / "s"), "TMUX_TMPDIR": str(sockets),
           "EXPCTL_WORKSPACE": str(tmp)}
    try:
        ws, _ = init_workspace(tmp)
        script = tmp / "first.py"
        script.write_text(SCRIPT)
        (tmp / "recipes" / "bench.yaml").write_text(
            f"command: [{sys.executable!r}, {str(script)!r}]\n")
        baseline = statistics.median(direct_start(script, tmp / "direct.out")
                                     for _ in range(args.repeat))
        print(f"job start-up, run directly: {baseline * 1000:.0f} ms (median of {args.repeat}); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        failed = False
        for launcher in ("local", "screen", "tmux"):
            if launcher != "local" and shutil.which(launcher) is None:
                print(f"{launcher:6s}: skipped ({launcher} is not installed)")
                continue
            times = []
            for i in range(args.repeat):
                run_id = f"{launcher}{i}"
                create_run(ws, run_id, "bench")
                times.append(launched_start(expctl, tmp, run_id, launcher, env))
            overhead = statistics.median(times) - baseline
            ok = overhead < TARGET_S
            failed |= not ok
            print(f"{launcher:6s}: launch to first line {statistics.median(times) * 1000:.0f} ms,"
                  f" overhead {overhead * 1000:.0f} ms (best {(min(times) - baseline) * 1000:.0f}"
                  f" ms) {'ok' if ok else 'OVER'} (target < {TARGET_S * 1000:.0f} ms)")
        if failed:
            sys.exit(1)
    finally:
        subprocess.run(["tmux", "kill-server"], env=env, capture_output=True, check=False)
        subprocess.run(["screen", "-wipe"], env=env, capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(sockets, ignore_errors=True)


if __name__ == "__main__":
    main()
