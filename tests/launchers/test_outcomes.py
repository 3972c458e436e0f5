"""How a launched job ends, for each launcher, as `expctl status` sees it; and its full log.

Real screen and tmux sessions and real processes, without a TTY.
"""

from __future__ import annotations

import json
import os
import signal

import pytest
from launchkit import LaunchKit, pid_alive, sessions_available, wait_until

from expctl.runs import load_run
from expctl.state import status_cell

LAUNCHERS = [
    pytest.param(name, marks=pytest.mark.skipif(not sessions_available(name),
                                                 reason=f"{name} is not installed"))
    for name in ("local", "screen", "tmux")
]


@pytest.fixture()
def lkit(tmp_path):
    kit = LaunchKit(tmp_path)
    yield kit
    kit.cleanup()


def expected_lines(n: int) -> bytes:
    """What the `lines` job prints (stderr lines interleave deterministically: unbuffered)."""
    lines = b"".join(f"line {i} of the job\n".encode() for i in range(n))
    return lines + b"last line without newline"


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_exit_zero_is_finished_and_the_log_holds_every_byte(lkit, launcher):
    lkit.new("ok", a=200, b=0)
    result = lkit.launch("ok", launcher)
    assert "launched run ok" in result.stderr
    lkit.wait_ended("ok")
    st = lkit.status("ok")
    assert (st["state"], st["exit_code"], st["signal"]) == ("finished", 0, None)
    assert st["launcher"] == launcher and st["elapsed_s"] > 0
    assert lkit.log("ok") == expected_lines(200)
    cell = status_cell(load_run(lkit.ws, "ok"))  # what `ls` shows
    assert (cell.text, cell.style) == ("finished", "green")
    info = (lkit.run_path("ok") / "run.yaml").read_text()
    assert f"launcher: {launcher}" in info
    if launcher != "local":
        assert st["session"] and st["session"] in info


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_exit_three_is_failed_with_its_code(lkit, launcher):
    lkit.new("bad", a=3, b=3)
    lkit.launch("bad", launcher)
    lkit.wait_ended("bad")
    st = lkit.status("bad")
    assert (st["state"], st["exit_code"]) == ("failed", 3)
    assert lkit.log("bad") == expected_lines(3)
    assert status_cell(load_run(lkit.ws, "bad")).text == "failed (3)"
    if launcher == "local":  # the human-readable form once
        shown = lkit.cli("status", "bad").stdout
        assert "failed (3)" in shown and "exit code  3" in shown


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_stop_ends_the_job_and_everything_it_started(lkit, launcher):
    lkit.new("hang", mode="hang")
    lkit.launch("hang", launcher)
    lkit.wait_output("hang", b"ready\n")
    children = json.loads((lkit.run_path("hang") / "children.json").read_text())
    job_pid = lkit.job("hang")["job_pid"]
    assert all(pid_alive(p) for p in (job_pid, *children.values()))
    result = lkit.cli("stop", "hang", "--grace", "5")
    assert "killed (SIGINT)" in result.stderr
    st = lkit.status("hang")
    assert (st["state"], st["signal"]) == ("killed", "SIGINT")
    # The job, a child that ignores SIGINT and one that left the process group are all gone.
    for pid in (job_pid, *children.values()):
        wait_until(lambda pid=pid: not pid_alive(pid), 5, f"pid {pid} to be gone")
    assert lkit.log("hang") == b"ready\n" or lkit.log("hang").startswith(b"ready\n")


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_sigkill_of_the_job_is_killed_with_the_signal(lkit, launcher):
    lkit.new("k9", mode="hang")
    lkit.launch("k9", launcher)
    lkit.wait_output("k9", b"ready\n")
    os.kill(lkit.job("k9")["job_pid"], signal.SIGKILL)
    lkit.wait_ended("k9")
    st = lkit.status("k9")
    assert (st["state"], st["signal"], st["exit_code"]) == ("killed", "SIGKILL", None)
    children = json.loads((lkit.run_path("k9") / "children.json").read_text())
    for pid in children.values():  # orphans are cleaned up after the job's death too
        wait_until(lambda pid=pid: not pid_alive(pid), 8, f"orphan {pid} to be gone")
    assert lkit.log("k9").startswith(b"ready\n")


@pytest.mark.parametrize("launcher", ["screen", "tmux"])
def test_killing_the_session_from_outside_is_recorded(lkit, launcher):
    if not sessions_available(launcher):
        pytest.skip(f"{launcher} is not installed")
    lkit.new("gone", mode="hang")
    lkit.launch("gone", launcher)
    lkit.wait_output("gone", b"ready\n")
    session = lkit.status("gone")["session"]
    if launcher == "screen":
        lkit.tool("screen", "-S", session, "-X", "quit")
    else:
        lkit.tool("tmux", "kill-session", "-t", f"={session}")
    wait_until(lambda: lkit.state("gone") != "running", 15, "the run to stop running")
    st = lkit.status("gone")
    assert st["state"] in ("killed", "lost")
    if st["state"] == "killed":
        assert st["signal"] == "SIGHUP"
    assert lkit.log("gone").startswith(b"ready\n")


def test_sigterm_to_a_local_supervisor_is_forwarded_and_recorded(lkit):
    lkit.new("term", mode="hang")
    lkit.launch("term", "local")
    lkit.wait_output("term", b"ready\n")
    os.kill(lkit.job("term")["supervisor"]["pid"], signal.SIGTERM)
    lkit.wait_ended("term")
    st = lkit.status("term")
    assert (st["state"], st["signal"]) == ("killed", "SIGTERM")
