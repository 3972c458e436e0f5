"""A run that is still training: `validate`, `record` and `commit` refuse (exit 4) unless
--while-training, as `gather` does; a second `cycle` of one run waits for the first and then
finds nothing left to do. Real processes; the job runs until the test releases it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from launchkit import EXPCTL, LaunchKit, wait_until

# Appends its pid to ran.txt, logs one metric, then waits for `release`; exits 0.
HELD_JOB = r'''
import json, os, time
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "ran.txt"), "a") as f:
    f.write(f"{os.getpid()}\n")
with open(os.path.join(os.environ["EXPCTL_RUN_DIR"], "score.json"), "w") as f:
    json.dump({"acc": 0.25}, f)
print("ready", flush=True)
while not os.path.exists(os.path.join(here, "release")):
    time.sleep(0.05)
'''
VALIDATE = "import os; print('validated', os.environ['EXPCTL_RUN_ID'], flush=True)"

RECIPE = {
    "description": "held training",
    "command": [sys.executable, "{workspace}/held.py"],
    "steps_param": "steps",
    "params": {"steps": 10},
    "validate": {"command": [sys.executable, "-c", VALIDATE]},
    "metrics": {"primary": "acc",
                "sources": [{"kind": "json", "path": "score.json", "metrics": {"acc": "acc"}}]},
}


@pytest.fixture()
def kit(tmp_path):
    kit = LaunchKit(tmp_path, RECIPE)
    (tmp_path / "held.py").write_text(HELD_JOB)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "workspace"]):
        subprocess.run(["git", *args], cwd=tmp_path, env=kit.env, check=True,
                       capture_output=True)
    yield kit
    (tmp_path / "release").touch()
    kit.cleanup()


def refused(result: subprocess.CompletedProcess, action: str) -> bool:
    return "still training" in result.stderr and f"`{action}`" in result.stderr \
        and "--while-training" in result.stderr


def test_validate_record_and_commit_refuse_a_run_that_is_still_training(kit):
    kit.new("held")
    kit.launch("held", "local")
    kit.wait_output("held", b"ready\n")
    assert refused(kit.cli("validate", "held", expect=4), "validate")
    assert refused(kit.cli("validate", "held", "--local", expect=4), "validate")
    assert refused(kit.cli("record", "held", expect=4), "record")
    assert refused(kit.cli("record", "held", "acc=0.3", expect=4), "record")
    assert not (kit.run_path("held") / "experiment_results.json").exists()
    assert not (kit.run_path("held") / "validation_results" / "validation.json").exists()
    # With the flag, each goes ahead (the user asked for half-trained numbers).
    kit.cli("record", "held", "--while-training")
    assert json.loads((kit.run_path("held") / "experiment_results.json").read_text())[
        "metrics"] == {"acc": 0.25}
    assert refused(kit.cli("commit", "held", expect=4), "commit")
    kit.cli("commit", "held", "--while-training")
    kit.cli("validate", "held", "--while-training")
    assert (kit.run_path("held") / "validation_results" / "validation.json").exists()
    (kit.root / "release").touch()
    kit.wait_ended("held")
    kit.cli("record", "held")  # once it has finished, no flag is needed


def test_a_second_cycle_of_a_run_waits_for_the_first(kit):
    kit.new("cyc")
    log = kit.run_path("cyc") / "training_logs" / "cycle.log"

    def cycle() -> subprocess.Popen:
        return subprocess.Popen([EXPCTL, "cycle", "cyc"], cwd=kit.root, env=kit.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    first = cycle()
    try:
        wait_until(lambda: log.exists() and "wait: start" in log.read_text(), 30,
                   "the first cycle to wait for its training")
        second = cycle()
        try:
            wait_until(lambda: "cycle: waiting" in log.read_text(), 30,
                       "the second cycle to wait")
            assert second.poll() is None and first.poll() is None
            (kit.root / "release").touch()
            _, err1 = first.communicate(timeout=60)
            _, err2 = second.communicate(timeout=60)
        finally:
            if second.poll() is None:
                second.kill()
    finally:
        if first.poll() is None:
            first.kill()
    assert (first.returncode, second.returncode) == (0, 0), err1 + err2
    assert "another cycle of this run is running" in err2
    for phase in ("launch: skipped", "validate: skipped", "record: skipped"):
        assert phase in err2, err2
    assert len((kit.root / "ran.txt").read_text().split()) == 1
    phases = [line.split(" ", 1)[1] for line in log.read_text().splitlines()]
    assert phases.count("validate: start") == 1 and phases.count("cycle: done") == 2
