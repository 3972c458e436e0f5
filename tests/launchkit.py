"""Shared helpers for the launcher tests: an isolated workspace, a test job, the real CLI.

Each kit has its own screen socket folder (SCREENDIR) and tmux server (TMUX_TMPDIR), so tests
never see each other's sessions or a developer's, and `cleanup` removes all it started.
Everything runs without a TTY (stdin is /dev/null). Imported by the launcher, phase and job
tests; it holds no tests itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from helpers import expctl_script, run_expctl

PYTHON = sys.executable
EXPCTL = expctl_script()

# The test job: one script, its behaviour chosen by the `mode` param.
JOB_SCRIPT = r'''
import json, os, subprocess, sys, time
mode, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
run_dir = os.environ["EXPCTL_RUN_DIR"]
if mode == "lines":  # a lines (every 10th on stderr), a last one without newline, exit b
    for i in range(int(a)):
        print(f"line {i} of the job", file=sys.stderr if i % 10 == 9 else sys.stdout)
    sys.stdout.write("last line without newline")
    sys.stdout.flush()
    sys.exit(int(b))
if mode == "hang":  # children that outlive a plain SIGINT, then wait
    stubborn = subprocess.Popen(["sh", "-c", "trap '' INT; exec sleep 300"])
    escaped = subprocess.Popen(["sleep", "301"], start_new_session=True)
    with open(os.path.join(run_dir, "children.json"), "w") as f:
        json.dump({"stubborn": stubborn.pid, "escaped": escaped.pid}, f)
    print("ready", flush=True)
    time.sleep(300)
if mode == "echo":  # what the job received, exactly
    with open(os.path.join(run_dir, "echo.json"), "w") as f:
        json.dump({"argv": sys.argv[2:], "cwd": os.getcwd(), "odd": os.environ.get("ODD"),
                   "extra": sys.argv[4:]}, f)
    print("echoed", flush=True)
if mode == "metrics":  # log a steps of metrics through expctl.track, then wait for b seconds
    from expctl import track
    for step in range(1, int(a) + 1):
        track.log({"loss": round(1.0 / step, 4), "acc": step / 100}, step=step * 10)
    track.flush()
    print("logged", flush=True)
    time.sleep(float(b))
if mode == "rank":  # under accelerate: one line per process
    print(f"rank {os.environ.get('RANK')} of {os.environ.get('WORLD_SIZE')}", flush=True)
'''

RECIPE = {
    "description": "launcher tests",
    "command": [PYTHON, "{workspace}/job.py", "{mode}", "{a}", "{b}"],
    "steps_param": "steps",
    "resume_args": ["--resume-from", "{run_dir}/checkpoints"],
    "params": {"mode": "lines", "a": "5", "b": "0", "steps": 50},
    "launch": {"env": {"ODD": "plain"}},
}


# EXPCTL_TEST_WAIT_SCALE=1 for the deadlines as written (on an idle machine).
WAIT_SCALE = float(os.environ.get("EXPCTL_TEST_WAIT_SCALE", "3"))


def wait_until(condition: Callable[[], Any], timeout: float = 15.0, what: str = "condition",
               interval: float = 0.02) -> Any:
    """Poll `condition` until it returns something true; fail after `timeout` seconds, times
    WAIT_SCALE: a poll returns as soon as the condition holds, so a generous deadline costs a
    passing test nothing and keeps parallel workers on a loaded machine from failing it."""
    timeout *= WAIT_SCALE
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not stat[stat.rfind(")") + 2:].startswith("Z")


class LaunchKit:
    """A workspace with the test job and recipe, and the environment the CLI runs in."""

    def __init__(self, root: Path, recipe: dict | None = None):
        from expctl.workspace import init_workspace

        self.root = root
        self.ws, _ = init_workspace(root)
        (root / "job.py").write_text(JOB_SCRIPT)
        self.write_recipe("baseline", recipe or RECIPE)
        self.sockets = Path(tempfile.mkdtemp(prefix="exl-", dir="/tmp"))
        screendir = self.sockets / "s"
        screendir.mkdir(mode=0o700)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("EXPCTL_", "TMUX", "STY"))}
        self.env.update(SCREENDIR=str(screendir), TMUX_TMPDIR=str(self.sockets), NO_COLOR="1",
                        COLUMNS="120", EXPCTL_WORKSPACE=str(root))

    def write_recipe(self, name: str, recipe: dict) -> None:
        (self.root / "recipes" / f"{name}.yaml").write_text(yaml.safe_dump(recipe))

    def new(self, run_id: str, recipe: str = "baseline", **params: Any):
        """Create a run in-process (no registry needed) with `key=value` overrides."""
        from expctl.phases.new import create_run

        overrides = [f"{k}={v}" for k, v in params.items()]
        run = create_run(self.ws, run_id, recipe, overrides)
        self.ws.set_current_run(run.id)
        return run

    def cli(self, *args: str, env: dict | None = None, timeout: float = 60,
            expect: int | None = 0) -> subprocess.CompletedProcess:
        """Run the real `expctl` with no TTY; check its exit code unless `expect` is None."""
        return run_expctl(*args, cwd=self.root, env=env or self.env, timeout=timeout,
                          expect=expect)

    def launch(self, run_id: str, launcher: str, *extra: str) -> subprocess.CompletedProcess:
        return self.cli("launch", run_id, f"--{launcher}", *extra)

    def status(self, run_id: str) -> dict:
        """What `expctl status --format json` says."""
        return json.loads(self.cli("status", run_id, "--format", "json").stdout)

    def run_path(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def job(self, run_id: str) -> dict:
        path = self.run_path(run_id) / "training_logs" / "job.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def log(self, run_id: str) -> bytes:
        path = self.run_path(run_id) / "training_logs" / "stdout.log"
        return path.read_bytes() if path.exists() else b""

    def state(self, run_id: str) -> str:
        """The derived state, in-process (cheap enough to poll)."""
        from expctl.runs import load_run
        from expctl.state import run_status

        return run_status(load_run(self.ws, run_id)).state

    def wait_ended(self, run_id: str, timeout: float = 20.0) -> dict:
        wait_until(lambda: self.job(run_id).get("state") == "ended", timeout,
                   f"run {run_id} to end")
        return self.job(run_id)

    def wait_output(self, run_id: str, text: bytes, timeout: float = 15.0) -> None:
        wait_until(lambda: text in self.log(run_id), timeout, f"{text!r} in {run_id}'s log")

    def tool(self, *args: str) -> subprocess.CompletedProcess:
        """screen or tmux, against this kit's own sockets."""
        return subprocess.run(list(args), env=self.env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=10)

    def cleanup(self) -> None:
        """End every job, session and server this kit started."""
        from expctl.launchers.control import run_processes
        from expctl.launchers.jobfiles import process_start_ticks, same_process_alive

        for job_file in self.root.glob("runs/*/training_logs/job.json"):
            job = json.loads(job_file.read_text() or "{}")
            if job.get("state") != "running":
                continue
            # Only processes proven to be ours (pid and start time): pids get reused. The
            # supervisor, if alive, then ends what the job left behind and writes its record.
            pgid = job.get("job_pid")
            if pgid and process_start_ticks(pgid) == job.get("job_start"):
                _quietly(os.killpg, pgid, signal.SIGKILL)
            supervisor = job.get("supervisor") or {}
            if same_process_alive(supervisor):
                try:
                    wait_until(lambda f=job_file: '"ended"' in f.read_text(), 8, "the record")
                except AssertionError:
                    _quietly(os.kill, supervisor["pid"], signal.SIGKILL)
        for run_dir in self.root.glob("runs/*"):  # a safety net: nothing of ours may outlive us
            for pid in run_processes(run_dir):
                _quietly(os.kill, pid, signal.SIGKILL)
        if shutil.which("tmux"):
            self.tool("tmux", "kill-server")
        if shutil.which("screen"):
            listing = self.tool("screen", "-ls").stdout
            for line in listing.splitlines():
                target = line.strip().split("\t")[0]
                if target[:1].isdigit() and "." in target:
                    self.tool("screen", "-S", target, "-X", "quit")
            self.tool("screen", "-wipe")
        shutil.rmtree(self.sockets, ignore_errors=True)


def _quietly(kill: Callable[[int, int], None], pid: int, sig: int) -> None:
    try:
        kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def sessions_available(launcher: str) -> bool:
    return launcher == "local" or shutil.which(launcher) is not None
