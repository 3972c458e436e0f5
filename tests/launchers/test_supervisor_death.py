"""Fault injection: the supervisor is SIGKILLed while its job lives (local, screen, tmux).

The job's liveness is the job's: the run stays `running` (with a note), `wait` keeps waiting,
`launch --resume` and `cycle` start no second copy, `stop` ends it; once the job ends by
itself the state says what is known. The stand-in job appends its pid to a file, so a second
copy would show. Real processes and real sessions, no TTY.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from launchkit import EXPCTL, LaunchKit, pid_alive, sessions_available, wait_until

# Appends its pid to ran.txt, says ready, then waits (printing nothing: its stdout pipe dies
# with the supervisor) until `release` appears, and exits 0; a child shares its life.
ORPHAN_JOB = r'''
import os, subprocess, sys, time
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "ran.txt"), "a") as f:
    f.write(f"{os.getpid()}\n")
child = subprocess.Popen(["sleep", "300"])
with open(os.path.join(os.environ["EXPCTL_RUN_DIR"], "child.pid"), "w") as f:
    f.write(str(child.pid))
print("ready", flush=True)
try:
    while not os.path.exists(os.path.join(here, "release")):
        time.sleep(0.05)
finally:
    child.kill()
'''

RECIPE = {
    "description": "supervisor death",
    "command": [sys.executable, "{workspace}/orphan_job.py"],
    "steps_param": "steps",
    "params": {"steps": 10},
    "metrics": {"sources": [{"kind": "jsonl", "path": "metrics.jsonl"}]},
}

LAUNCHERS = [
    pytest.param(name, marks=pytest.mark.skipif(not sessions_available(name),
                                                 reason=f"{name} is not installed"))
    for name in ("local", "screen", "tmux")
]


@pytest.fixture()
def kit(tmp_path):
    kit = LaunchKit(tmp_path, RECIPE)
    (tmp_path / "orphan_job.py").write_text(ORPHAN_JOB)
    yield kit
    (tmp_path / "release").touch()
    kit.cleanup()


def orphan(kit: LaunchKit, run_id: str, launcher: str) -> dict:
    """Launch the run, wait until its job is ready, SIGKILL its supervisor; the job record."""
    kit.new(run_id)
    kit.launch(run_id, launcher)
    kit.wait_output(run_id, b"ready\n")
    job = kit.job(run_id)
    supervisor = job["supervisor"]["pid"]
    os.kill(supervisor, signal.SIGKILL)
    wait_until(lambda: not pid_alive(supervisor), 10, "the supervisor to die")
    assert pid_alive(job["job_pid"])
    return job


def ran(kit: LaunchKit) -> list[str]:
    return (kit.root / "ran.txt").read_text().split()


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_a_job_outliving_its_supervisor_is_running_and_never_started_twice(kit, launcher):
    job = orphan(kit, "orph", launcher)
    st = kit.status("orph")
    assert (st["state"], st["orphan"]) == ("running", True)
    assert "supervisor" in st["note"] and "died" in st["note"]
    assert "running (supervisor died)" in kit.cli("status", "orph").stdout
    assert "supervisor died" in kit.cli("ls").stdout
    # wait keeps waiting (exit 124 is --timeout running out, not 125 "lost")
    kit.cli("wait", "orph", "--timeout", "1", expect=124)
    refused = kit.cli("launch", "orph", f"--{launcher}", "--resume", expect=4)
    assert "already running" in refused.stderr
    assert ran(kit) == [str(job["job_pid"])]
    # A cycle attaches to the running job instead of launching one.
    cycle = subprocess.Popen([EXPCTL, "cycle", "orph"], cwd=kit.root, env=kit.env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: b"wait: start" in _cycle_log(kit, "orph"), 20, "the cycle to wait")
        assert cycle.poll() is None
        (kit.root / "release").touch()  # the job ends by itself, exit code unseen
        _, err = cycle.communicate(timeout=30)
    finally:
        if cycle.poll() is None:
            cycle.kill()
    assert cycle.returncode != 0 and "was lost" in err, err
    assert "launch: skipped" in _cycle_log(kit, "orph").decode()
    wait_until(lambda: not pid_alive(job["job_pid"]), 10, "the job to end")
    st = kit.status("orph")
    assert (st["state"], st["orphan"]) == ("lost", False)
    assert st["note"] == "the job ended after its supervisor died; exit code unknown"
    kit.cli("wait", "orph", expect=125)
    assert ran(kit) == [str(job["job_pid"])]  # nothing ran twice


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_stop_ends_a_job_whose_supervisor_died(kit, launcher):
    job = orphan(kit, "stp", launcher)
    child = int((kit.run_path("stp") / "child.pid").read_text())
    result = kit.cli("stop", "stp", "--grace", "5")
    assert "killed (SIGINT)" in result.stderr + result.stdout
    for pid in (job["job_pid"], child):
        wait_until(lambda pid=pid: not pid_alive(pid), 5, f"pid {pid} to end")
    st = kit.status("stp")
    assert (st["state"], st["signal"], st["exit_code"]) == ("killed", "SIGINT", None)
    assert "supervisor died" in st["error"]
    kit.cli("wait", "stp", expect=128 + signal.SIGINT)
    assert ran(kit) == [str(job["job_pid"])]
    # Now that nothing of it runs, it may be resumed: one more copy, after the first.
    kit.cli("launch", "stp", "--local", "--resume")
    (kit.root / "release").touch()
    kit.wait_ended("stp")
    assert kit.status("stp")["state"] == "finished"
    assert len(ran(kit)) == 2


def test_stop_force_kills_a_job_whose_supervisor_died_at_once(kit):
    job = orphan(kit, "frc", "local")
    kit.cli("stop", "frc", "--force")
    assert not pid_alive(job["job_pid"])
    st = kit.status("frc")
    assert (st["state"], st["signal"]) == ("killed", "SIGKILL")


def _cycle_log(kit: LaunchKit, run_id: str) -> bytes:
    path = kit.run_path(run_id) / "training_logs" / "cycle.log"
    return path.read_bytes() if path.exists() else b""
