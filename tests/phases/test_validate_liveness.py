"""`expctl validate` SIGKILLed while its command runs: the command lives on, so the run is
still being validated and no second validation starts until it has ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from launchkit import EXPCTL, LaunchKit, pid_alive, wait_until

# Appends its pid to validated.txt, then waits for `release`.
HELD_VALIDATION = r'''
import os, time
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "validated.txt"), "a") as f:
    f.write(f"{os.getpid()}\n")
while not os.path.exists(os.path.join(here, "release")):
    time.sleep(0.05)
'''

RECIPE = {
    "description": "held validation",
    "command": [sys.executable, "-c", "print('trained')"],
    "steps_param": "steps",
    "params": {"steps": 10},
    "validate": {"command": [sys.executable, "{workspace}/held_validation.py"]},
    "metrics": {"sources": [{"kind": "jsonl", "path": "metrics.jsonl"}]},
}


def test_a_validation_outliving_its_command_is_never_started_twice(tmp_path):
    kit = LaunchKit(tmp_path, RECIPE)
    (tmp_path / "held_validation.py").write_text(HELD_VALIDATION)
    try:
        kit.new("val")
        kit.launch("val", "local")
        kit.wait_ended("val")
        first = subprocess.Popen([EXPCTL, "validate", "val"], cwd=tmp_path, env=kit.env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        validated = tmp_path / "validated.txt"
        wait_until(lambda: validated.exists() and validated.read_text(), 20, "validation")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        pid = int(validated.read_text())
        assert pid_alive(pid)
        assert "already being validated" in kit.cli("validate", "val", expect=4).stderr
        assert "being validated" in kit.cli("cycle", "val", expect=4).stderr
        assert validated.read_text().split() == [str(pid)]
        (tmp_path / "release").touch()
        wait_until(lambda: not pid_alive(pid), 10, "the validation to end")
        kit.cli("validate", "val", expect=None)  # now it may run again (a new record)
        assert len(validated.read_text().split()) == 2
    finally:
        (tmp_path / "release").touch()
        kit.cleanup()
