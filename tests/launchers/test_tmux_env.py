"""Detached work under tmux gets the caller's environment, also when a tmux server was
already running (a running server otherwise hands new sessions its own environment), and no
environment file outlives the start of what it was written for.

A private tmux server (TMUX_TMPDIR of the kit) is started first, without the variable; then
`launch --tmux`, `validate --tmux` and `cycle --tmux --detach` run with a caller-only one."""

from __future__ import annotations

import json
import sys

import pytest
from launchkit import LaunchKit, sessions_available, wait_until

pytestmark = pytest.mark.skipif(not sessions_available("tmux"), reason="tmux is not installed")

# Records what it saw of CALLER_ONLY in the run folder, for the phase named in argv[1].
SEEN_JOB = r'''
import json, os, sys
path = os.path.join(os.environ["EXPCTL_RUN_DIR"], f"seen-{sys.argv[1]}.json")
with open(path, "w") as f:
    json.dump({"caller": os.environ.get("CALLER_ONLY"), "ok": 1}, f)
print("seen", flush=True)
'''

RECIPE = {
    "description": "environment of detached work",
    "command": [sys.executable, "{workspace}/seen.py", "train"],
    "steps_param": "steps",
    "params": {"steps": 10},
    "validate": {"command": [sys.executable, "{workspace}/seen.py", "validate"]},
    "metrics": {"sources": [{"kind": "json", "path": "seen-validate.json",
                             "metrics": {"ok": "ok"}}]},
}
VALUE = "only-in-the-callers-shell"


@pytest.fixture()
def kit(tmp_path):
    kit = LaunchKit(tmp_path, RECIPE)
    (tmp_path / "seen.py").write_text(SEEN_JOB)
    # The server starts first, from an environment without the variable.
    assert "CALLER_ONLY" not in kit.env
    started = kit.tool("tmux", "new-session", "-d", "-s", "keeper", "sleep", "600")
    assert started.returncode == 0, started.stderr
    assert kit.tool("tmux", "has-session", "-t", "=keeper").returncode == 0
    yield kit
    kit.cleanup()


def seen(kit: LaunchKit, run_id: str, phase: str):
    path = kit.run_path(run_id) / f"seen-{phase}.json"
    return json.loads(path.read_text())["caller"] if path.exists() else None


def env_files(kit: LaunchKit) -> list[str]:
    return sorted(p.name for p in (kit.root / ".expctl" / "jobs").glob("*.env.json"))


def test_launch_and_validate_under_a_running_tmux_server_get_the_callers_variable(kit):
    caller = {**kit.env, "CALLER_ONLY": VALUE}
    kit.new("tv")
    kit.cli("launch", "tv", "--tmux", env=caller)
    kit.wait_ended("tv")
    assert seen(kit, "tv", "train") == VALUE
    kit.cli("validate", "tv", "--tmux", env=caller)
    wait_until(lambda: seen(kit, "tv", "validate"), 30, "the detached validation")
    assert seen(kit, "tv", "validate") == VALUE
    assert env_files(kit) == []


def test_a_detached_cycle_under_a_running_tmux_server_gets_the_callers_variable(kit):
    caller = {**kit.env, "CALLER_ONLY": VALUE}
    kit.new("cy")
    started = kit.cli("cycle", "cy", "--tmux", "--detach", env=caller)
    assert "detach: done" in started.stderr
    log = kit.run_path("cy") / "training_logs" / "cycle.log"
    wait_until(lambda: log.exists() and "cycle: done" in log.read_text(), 60, "the cycle")
    assert seen(kit, "cy", "train") == VALUE  # the training it launched
    assert seen(kit, "cy", "validate") == VALUE  # the validation it ran itself
    assert env_files(kit) == []
    # And without the caller's variable, nothing of it is left anywhere to be inherited.
    kit.new("cz")
    kit.cli("cycle", "cz", "--tmux", "--detach")
    log = kit.run_path("cz") / "training_logs" / "cycle.log"
    wait_until(lambda: log.exists() and "cycle: done" in log.read_text(), 60, "the cycle")
    assert seen(kit, "cz", "train") is None
