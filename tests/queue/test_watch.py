"""The scheduler's kept run states (expctl.queue.watch.RunStates): derived again only when a
file changed or a running run's supervisor died, and then exactly as every command says."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from launchkit import LaunchKit, wait_until

from expctl.launchers.jobfiles import identity
from expctl.queue import watch
from expctl.rundir import now_iso, write_json_atomic

RECIPE = {"command": [sys.executable, "-c", "pass"], "params": {}}


@pytest.fixture()
def kit(tmp_path):
    kit = LaunchKit(tmp_path, RECIPE)
    yield kit
    kit.cleanup()


def _running(path, pid: int) -> dict:
    """Launch and exit records naming live process `pid` as the supervisor and job."""
    write_json_atomic(path / "launch.json", {
        "version": 1, "launch_id": "L1", "run_id": path.name, "attempt": 1,
        "launched": now_iso(), "launcher": "local", "session": None})
    me = identity(pid)
    job = {"launch_id": "L1", "state": "running", "started": now_iso(), "supervisor": me,
           "job_pid": pid, "job_start": me["pid_start"]}
    write_json_atomic(path / "training_logs" / "job.json", job)
    return job


def test_a_kept_state_holds_until_a_file_changes_or_the_supervisor_dies(kit, monkeypatch):
    derived = []
    real = watch.derive
    monkeypatch.setattr(watch, "derive", lambda ws, run_id: derived.append(run_id) or
                        real(ws, run_id))
    states = watch.RunStates(kit.ws)
    path = kit.new("w").path
    assert states.state("w") == "created" and states.state("w") == "created"
    assert derived == ["w"]
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        job = _running(path, sleeper.pid)
        assert states.state("w") == "running"
        for _ in range(5):
            assert states.state("w") == "running"
        assert len(derived) == 2  # alive and unchanged: a signal and a /proc read, no more
        sleeper.kill()
        sleeper.wait()
        assert states.state("w") == "lost"  # no exit record, nothing of the job left
        assert len(derived) == 3
        job.update(state="ended", exit_code=0, ended=now_iso(), elapsed_s=1.0)
        write_json_atomic(path / "training_logs" / "job.json", job)
        assert states.state("w") == "finished"
        assert states.state("nope") == "missing"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_queue_entry_change_is_seen(kit) -> None:
    from expctl.queue import store

    kit.new("q")
    states = watch.RunStates(kit.ws)
    assert states.state("q") == "created"
    qdir = store.queue_dir(kit.root)
    store.write_entry(qdir, store.Entry(run_id="q", seq=1, queued="", reason="queue paused"))
    assert states.state("q") == "queued"
    entry = json.loads(store.entry_path(qdir, "q").read_text())
    store.write_entry(qdir, store.Entry(**{**entry, "state": "blocked"}))
    wait_until(lambda: states.state("q") == "blocked", 5, "the blocked state")
