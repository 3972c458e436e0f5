"""Fault injection under Slurm (the dev cluster of scripts/slurm-dev.sh): the supervisor is
SIGKILLed while its job lives. The batch script then waits for the job's processes, so the
Slurm job stays RUNNING while they do: `status` says running, `wait` waits, `--resume` is
refused, `stop` ends it; a job that ends by itself is `lost` with what is known."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
from launchers.test_supervisor_death import ORPHAN_JOB, RECIPE
from launchkit import LaunchKit, pid_alive, wait_until

from expctl.launchers.jobfiles import hostname

pytestmark = pytest.mark.slurm


def orphan(kit: LaunchKit, run_id: str) -> dict:
    """Launch on Slurm, wait for the job, SIGKILL its supervisor; the job record."""
    kit.write_recipe("baseline", RECIPE)
    (kit.root / "orphan_job.py").write_text(ORPHAN_JOB)
    kit.new(run_id)
    kit.launch(run_id, "slurm")
    kit.wait_output(run_id, b"ready\n", timeout=60)
    job = kit.job(run_id)
    if job["supervisor"]["host"] != hostname():
        pytest.skip("the dev cluster's node is another machine: cannot signal the supervisor")
    os.kill(job["supervisor"]["pid"], signal.SIGKILL)
    wait_until(lambda: not pid_alive(job["supervisor"]["pid"]), 10, "the supervisor to die")
    return job


def squeue_state(job_id: str) -> str:
    return subprocess.run(["squeue", "-h", "-j", job_id, "--states=all", "-o", "%T"],
                          capture_output=True, text=True).stdout.strip()


def test_a_slurm_job_outliving_its_supervisor_stays_running_until_it_ends(skit):
    job = orphan(skit, "sorph")
    st = skit.status("sorph")
    assert (st["state"], st["slurm_state"]) == ("running", "RUNNING")
    assert squeue_state(st["session"]) == "RUNNING"
    skit.cli("wait", "sorph", "--timeout", "2", expect=124)
    assert "already running" in skit.cli("launch", "sorph", "--slurm", "--resume",
                                         expect=4).stderr
    (skit.root / "release").touch()
    skit.cli("wait", "sorph", "--timeout", "60", expect=125)
    st = skit.status("sorph")
    assert st["state"] == "lost"
    assert st["note"] == "the job ended after its supervisor died; exit code unknown"
    assert not pid_alive(job["job_pid"])
    assert (skit.root / "ran.txt").read_text().split() == [str(job["job_pid"])]
    record = json.loads((skit.run_path("sorph") / "training_logs" /
                         f"slurm-{st['session']}.exit.json").read_text())
    assert record["supervisor_died"] is True and record["exit_code"] is None


def test_stop_ends_a_slurm_job_whose_supervisor_died(skit):
    job = orphan(skit, "sstop")
    child = int((skit.run_path("sstop") / "child.pid").read_text())
    skit.cli("stop", "sstop", "--grace", "10", timeout=120)
    for pid in (job["job_pid"], child):
        wait_until(lambda pid=pid: not pid_alive(pid), 10, f"pid {pid} to end")
    st = skit.status("sstop")
    assert (st["state"], st["signal"]) == ("killed", "SIGINT")
    assert (skit.root / "ran.txt").read_text().split() == [str(job["job_pid"])]
    assert list((skit.root / ".expctl" / "jobs").glob("*.env.json")) == []


def test_a_job_cancelled_while_pending_leaves_no_environment_file(skit):
    skit.new("held", **{"slurm.extra": '["--hold"]'})
    skit.cli("launch", "held", "--slurm", env={**skit.env, "CALLER_SECRET": "s3cret"})
    assert skit.status("held")["slurm_state"] == "PENDING"
    jobs = skit.root / ".expctl" / "jobs"
    assert list(jobs.glob("*.env.json")) == []  # sbatch carries the environment itself
    assert b"s3cret" not in b"".join(p.read_bytes() for p in skit.run_path("held").rglob("*")
                                     if p.is_file())
    skit.cli("stop", "held")
    assert list(jobs.glob("*.env.json")) == []
