"""`expctl launch --slurm` against a real Slurm cluster (scripts/slurm-dev.sh start).

The cluster is found through SLURM_CONF, else the env file scripts/slurm-dev.sh writes; the
tests are skipped, saying how to start one, where no controller answers.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from launchkit import RECIPE, LaunchKit, wait_until

from expctl.launchers import slurm

pytestmark = pytest.mark.slurm
JOB_TIMEOUT_S = 60.0


def status(kit: LaunchKit, run_id: str) -> dict:
    return kit.status(run_id)


def wait_run(kit: LaunchKit, run_id: str, expect: int) -> str:
    """`expctl wait` with its exit code checked; returns its stderr."""
    return kit.cli("wait", run_id, "--timeout", str(JOB_TIMEOUT_S), expect=expect).stderr


def test_a_run_finishes_and_is_tracked_by_job_id(skit: LaunchKit) -> None:
    run = skit.new("ok", mode="lines", a="25", b="0")
    launched = skit.launch("ok", "slurm").stderr
    job_id = re.search(r"slurm job (\d+)", launched).group(1)
    wait_run(skit, "ok", 0)
    st = status(skit, "ok")
    assert (st["state"], st["exit_code"], st["launcher"], st["session"]) == \
        ("finished", 0, "slurm", job_id)
    assert st["node"]
    # The job id is stored where every command finds it.
    info = (run.path / "run.yaml").read_text()
    assert f"session: '{job_id}'" in info and "launcher: slurm" in info
    assert json.loads((run.path / "launch.json").read_text())["session"] == job_id
    # All the job printed, in order; `logs` shows the same as with screen.
    log = skit.log("ok").decode()
    assert [f"line {i} of the job" for i in range(25)] == log.splitlines()[:25]
    assert skit.cli("logs", "ok", "-n", "2").stdout.splitlines() == \
        ["line 24 of the job", "last line without newline"]
    # The batch script is in the run folder; the job name came in as an argument.
    script = (run.path / "slurm-ok.sh").read_text()
    assert "#SBATCH --ntasks-per-node=1" in script and "--job-name" not in script
    queue = subprocess.run(["squeue", "-h", "-j", job_id, "--states=all", "-o", "%j"],
                           capture_output=True, text=True).stdout.strip()
    assert queue in ("ok", "")  # "" once Slurm has forgotten the job


@pytest.mark.parametrize("code", [3, 200])
def test_a_failing_job_shows_its_exit_code(skit: LaunchKit, code: int) -> None:
    skit.new("bad", mode="lines", a="1", b=str(code))
    skit.launch("bad", "slurm")
    err = wait_run(skit, "bad", code)
    assert f"failed ({code})" in err
    assert status(skit, "bad")["exit_code"] == code
    job_id = status(skit, "bad")["session"]
    record = json.loads((skit.run_path("bad") / "training_logs" /
                         f"slurm-{job_id}.exit.json").read_text())
    assert record["exit_code"] == code


def test_the_batch_scripts_record_counts_when_the_supervisor_is_gone(skit: LaunchKit) -> None:
    """The supervisor killed with SIGKILL writes no exit record: the batch script's file says
    what is known (the supervisor died, the job's exit code is unknown), and the run is not
    shown running forever."""
    skit.write_recipe("killer", {**RECIPE, "command": [
        sys.executable, "-c", "import os, signal; os.kill(os.getppid(), signal.SIGKILL)"]})
    skit.new("killed", recipe="killer")
    skit.launch("killed", "slurm")
    wait_run(skit, "killed", 125)
    st = status(skit, "killed")
    assert (st["state"], st["exit_code"]) == ("lost", None)
    assert st["note"] == "the job ended after its supervisor died; exit code unknown"
    assert st["slurm_state"] in ("FAILED", "UNKNOWN")


def test_stop_cancels_a_pending_job(skit: LaunchKit) -> None:
    skit.new("held", **{"slurm.extra": '["--hold"]'})
    skit.launch("held", "slurm")
    st = status(skit, "held")
    assert (st["state"], st["slurm_state"], st["reason"]) == ("running", "PENDING", "JobHeldUser")
    assert "PENDING (JobHeldUser)" in skit.cli("status", "held").stdout
    assert re.search(r"(?m)^held +baseline +PENDING \(JobHeldUser\) ", skit.cli("ls").stdout)
    stopped = skit.cli("stop", "held").stderr
    assert "killed" in stopped
    st = status(skit, "held")
    assert (st["state"], st["signal"], st["node"]) == ("killed", "SIGTERM", None)
    queue = subprocess.run(["squeue", "-h", "-j", st["session"], "--states=all", "-o", "%T"],
                           capture_output=True, text=True).stdout.strip()
    assert queue in ("CANCELLED", "")
    wait_run(skit, "held", 143)
    assert not skit.log("held")  # it never ran


def test_stop_asks_a_running_job_to_save_then_cancels_it(skit: LaunchKit) -> None:
    skit.write_recipe("saver", {**RECIPE, "command": [sys.executable, "-c", (
        "import signal, sys, time\n"
        "def save(*_):\n    print('saved', flush=True)\n    sys.exit(5)\n"
        "signal.signal(signal.SIGINT, save)\n"
        "print('ready', flush=True)\ntime.sleep(120)\n")]})
    skit.new("saver", recipe="saver")
    skit.launch("saver", "slurm")
    skit.wait_output("saver", b"ready", timeout=JOB_TIMEOUT_S)
    st = status(skit, "saver")
    assert st["slurm_state"] == "RUNNING" and st["node"]
    assert f"RUNNING on {st['node']}" in skit.cli("status", "saver").stdout
    assert re.search(rf"(?m)^saver +saver +RUNNING on {st['node']} ", skit.cli("ls").stdout)
    skit.cli("stop", "saver", "--grace", "20")
    st = status(skit, "saver")
    assert (st["state"], st["signal"], st["exit_code"]) == ("killed", "SIGINT", 5)
    assert skit.log("saver").decode().splitlines() == ["ready", "saved"]
    assert slurm.query_job(st["session"], "saver").state in ("COMPLETED", "FAILED", "UNKNOWN")


def test_stop_force_cancels_a_running_job_at_once(skit: LaunchKit) -> None:
    skit.new("stubborn", mode="hang", a="0", b="0")
    skit.launch("stubborn", "slurm")
    skit.wait_output("stubborn", b"ready", timeout=JOB_TIMEOUT_S)
    skit.cli("stop", "stubborn", "--force")
    st = status(skit, "stubborn")
    assert st["state"] == "killed" and st["signal"] == "SIGTERM"
    children = json.loads((skit.run_path("stubborn") / "children.json").read_text())
    from launchkit import pid_alive

    # Slurm ends every process of the job, even one that left the job's process group.
    wait_until(lambda: not any(pid_alive(p) for p in children.values()), 30,
               "the job's processes to end")


def test_stopping_an_ended_run_is_refused(skit: LaunchKit) -> None:
    skit.new("done", mode="lines", a="1", b="0")
    skit.launch("done", "slurm")
    wait_run(skit, "done", 0)
    result = skit.cli("stop", "done", expect=4)
    assert "not running (finished)" in result.stderr


def test_two_accelerate_processes_run_in_one_allocation(skit: LaunchKit) -> None:
    pytest.importorskip("accelerate")
    skit.write_recipe("acc", {**RECIPE, "params": {**RECIPE["params"], "mode": "rank"},
                              "launch": {"accelerate": True, "num_processes": 2, "cpu": True},
                              "slurm": {"cpus_per_task": 2}})
    skit.new("acc", recipe="acc")
    dry = skit.cli("launch", "acc", "--slurm", "--dry-run").stdout
    assert "srun --nodes=1 --ntasks=1" in dry and "expctl.launchers.slurm node" in dry
    skit.launch("acc", "slurm")
    wait_run(skit, "acc", 0)
    log = skit.log("acc").decode()
    assert "rank 0 of 2" in log and "rank 1 of 2" in log, log
    sacct = slurm.query_job(status(skit, "acc")["session"], "acc")
    assert sacct.state in ("COMPLETED", "UNKNOWN")


def test_a_shell_looking_param_stays_one_argument(skit: LaunchKit, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    skit.new("quoted", mode="echo", a=f"$(touch {marker})", b=f"`touch {marker}`;x")
    skit.launch("quoted", "slurm")
    wait_run(skit, "quoted", 0)
    echoed = json.loads((skit.run_path("quoted") / "echo.json").read_text())
    assert echoed["argv"] == [f"$(touch {marker})", f"`touch {marker}`;x"]
    assert not marker.exists()
