"""`expctl sweep --slurm` on a real Slurm cluster (scripts/slurm-dev.sh start): one job array,
each task finding its run folder through the sweep's task-index file; skipped without one."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from launchkit import LaunchKit, wait_until
from slurm_cluster import skit, slurm_conf  # noqa: F401 - fixtures

JOB_TIMEOUT_S = 60.0

pytestmark = pytest.mark.slurm


@pytest.fixture()
def akit(skit: LaunchKit):  # noqa: F811
    """skit, also cancelling its job-array tasks (`<job>_<task>`) at the end."""
    yield skit
    for launch in skit.root.glob("runs/*/launch.json"):
        session = str(json.loads(launch.read_text()).get("session") or "")
        if re.fullmatch(r"\d+_\d+", session):
            subprocess.run(["scancel", session], capture_output=True, timeout=30)


def test_a_sweep_is_one_job_array_with_every_task_recorded(akit: LaunchKit) -> None:
    kit = akit
    out = kit.cli("sweep", "baseline", "--set", "b=0,3", "--set", "a=2", "--id", "arr",
                   "--name", "t_a{a}", "--slurm", expect=2).stderr
    assert "gives `t_a2` for two runs" in out  # checked before anything is submitted
    assert not (kit.root / "sweeps").exists()
    out = kit.cli("sweep", "baseline", "--set", "a=2,4,6", "--set", "b=0,3", "--id", "arr",
                   "--name", "t_a{a}_b{b}", "--slurm").stderr
    job_id = re.search(r"Slurm job array (\d+)", out).group(1)
    ids = [f"t_a{a}_b{b}" for a in (2, 4, 6) for b in (0, 3)]
    tasks = (kit.root / "sweeps" / "arr" / "tasks.txt").read_text().splitlines()
    assert tasks == [str(kit.run_path(i)) for i in ids]
    for run_id in ids:
        kit.cli("wait", run_id, "--timeout", str(JOB_TIMEOUT_S), expect=None)
    for index, run_id in enumerate(ids):
        st = kit.status(run_id)
        code = 3 if run_id.endswith("b3") else 0
        assert (st["session"], st["launcher"], st["exit_code"]) == (f"{job_id}_{index}",
                                                                     "slurm", code)
        assert st["state"] == ("failed" if code else "finished") and st["node"]
        lines = int(run_id.split("_a")[1].split("_")[0])
        log = kit.log(run_id).decode().splitlines()
        assert log[:lines] == [f"line {i} of the job" for i in range(lines)]  # its own params
        assert (kit.run_path(run_id) / "training_logs" /
                f"slurm-{job_id}_{index}.exit.json").exists()
    listing = kit.cli("ls", "--sweep", "arr", "--format", "json").stdout
    assert {r["id"]: r["status"] for r in json.loads(listing)["runs"]} == \
        {i: "failed" if i.endswith("b3") else "finished" for i in ids}
    accounting = subprocess.run(["squeue", "-h", "-r", "-j", job_id, "--states=all", "-o", "%i"],
                                capture_output=True, text=True).stdout.split()
    assert set(accounting) <= {f"{job_id}_{i}" for i in range(len(ids))}


def test_a_held_array_shows_each_task_pending_and_after_becomes_a_dependency(
        akit: LaunchKit) -> None:
    kit = akit
    kit.new("first", mode="lines", a="1", b="0", **{"slurm.extra": '["--hold"]'})
    kit.launch("first", "slurm")
    first_job = kit.status("first")["session"]
    kit.cli("sweep", "baseline", "--set", "a=1,2", "--id", "dep", "--name", "d{a}",
             "--slurm", "--after", "first")
    for run_id in ("d1", "d2"):
        # Slurm gives a just-submitted job the reason `None` until its scheduler has looked.
        wait_until(lambda r=run_id: kit.status(r)["reason"] == "Dependency", 30, interval=0.5)
        st = kit.status(run_id)
        assert (st["state"], st["slurm_state"], st["reason"]) == \
            ("running", "PENDING", "Dependency")
        assert re.search(rf"(?m)^{run_id} +baseline +PENDING \(Dependency\)", kit.cli("ls").stdout)
    script = (kit.root / "sweeps" / "dep" / "slurm-dep.sh").read_text()
    assert 'run_dir="${runs[$SLURM_ARRAY_TASK_ID]}"' in script
    kit.cli("stop", "d1")
    assert kit.status("d1")["state"] == "killed" and kit.status("d2")["slurm_state"] == "PENDING"
    kit.cli("stop", "d2")
    kit.cli("stop", "first")
    assert kit.status("first")["session"] == first_job
