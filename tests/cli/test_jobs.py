"""The watching commands: status, logs, wait, attach, stop on a lost run; ls's status cell."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess

import pytest
from launchkit import EXPCTL, LaunchKit, pid_alive, sessions_available, wait_until

from expctl.launchers.status import derive_status
from expctl.runs import load_run
from expctl.state import status_cell


@pytest.fixture()
def jkit(tmp_path):
    kit = LaunchKit(tmp_path)
    yield kit
    kit.cleanup()


def test_status_shows_progress_eta_and_latest_metrics(jkit):
    jkit.new("m_100", mode="metrics", a=5, b=300, steps=100)  # steps 10..50 of 100
    jkit.launch("m_100", "local")
    jkit.wait_output("m_100", b"logged\n")
    shown = jkit.cli("status", "m_100").stdout
    assert "running 50/100" in shown and "50 / 100 (50.0%)" in shown
    assert re.search(r"\n  eta\s+\S+", shown) and re.search(r"\n  loss\s+0\.2000\n", shown)
    st = jkit.status("m_100")
    assert st["last_step"] == 50 and st["planned_steps"] == 100
    assert st["metrics"] == {"loss": 0.2, "acc": 0.05} and st["eta_s"] > 0
    cell = status_cell(load_run(jkit.ws, "m_100"))
    assert cell.style == "cyan"
    shape = r"running 50/100 · [\d.]+\S* elapsed · eta [\d.]+\S* · loss 0\.2"
    assert re.fullmatch(shape, cell.text)
    jkit.cli("stop", "m_100", "--grace", "5")


def test_logs_tail_and_follow_until_the_end(jkit):
    run = jkit.new("lg", a=30, b=0)
    assert status_cell(run).text == "created"
    # Like `wait` and `stop`: an error (4), not an empty log.
    refused = jkit.cli("logs", "lg", expect=4).stderr
    assert "not been launched" in refused and "expctl launch lg" in refused
    assert jkit.cli("logs", "lg", "-F", expect=4).stdout == ""
    jkit.launch("lg", "local")
    jkit.wait_ended("lg")
    tail = jkit.cli("logs", "lg", "-n", "3").stdout
    assert tail == "line 28 of the job\nline 29 of the job\nlast line without newline"
    # -f on a running job prints what comes and returns when the job ends.
    jkit.new("fl", mode="metrics", a=1, b=0.8)
    jkit.launch("fl", "local")
    result = jkit.cli("logs", "fl", "-F", timeout=30)
    assert result.stdout == "logged\n" and "finished" in result.stderr


@pytest.mark.parametrize(("params", "code"), [({"b": 0}, 0), ({"b": 3}, 3)])
def test_wait_exits_with_the_runs_code(jkit, params, code):
    jkit.new("w", **params)
    jkit.launch("w", "local")
    result = jkit.cli("wait", "w", expect=code, timeout=30)
    assert ("finished" if code == 0 else "failed (3)") in result.stderr


def test_wait_on_a_stopped_run_is_128_plus_the_signal_and_times_out_with_124(jkit):
    jkit.new("ws", mode="hang")
    jkit.launch("ws", "local")
    jkit.wait_output("ws", b"ready\n")
    timed = jkit.cli("wait", "ws", "--timeout", "0.5", expect=124)
    assert "still running" in timed.stderr
    waiter = subprocess.Popen([EXPCTL, "wait", "ws"], cwd=jkit.root, env=jkit.env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    jkit.cli("stop", "ws", "--grace", "5")
    _, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 128 + signal.SIGINT, err
    assert "ws training: ?/50" in err  # plain progress lines off a terminal


def test_a_dead_supervisor_leaves_the_run_running_and_stop_still_ends_its_job(jkit):
    jkit.new("orph", mode="hang")
    jkit.launch("orph", "local")
    jkit.wait_output("orph", b"ready\n")
    job = jkit.job("orph")
    os.kill(job["supervisor"]["pid"], signal.SIGKILL)
    wait_until(lambda: not pid_alive(job["supervisor"]["pid"]), what="the supervisor to die")
    assert jkit.status("orph")["state"] == "running"  # the job's liveness is the job's
    jkit.cli("wait", "orph", "--timeout", "0.5", expect=124)
    children = json.loads((jkit.run_path("orph") / "children.json").read_text())
    assert pid_alive(job["job_pid"])  # orphaned: only `stop` can reach it now
    jkit.cli("stop", "orph", "--grace", "1")
    for pid in (job["job_pid"], *children.values()):  # even the one that left the group
        wait_until(lambda pid=pid: not pid_alive(pid), 5, f"pid {pid} of the orphaned job to end")
    assert jkit.status("orph")["state"] == "killed"
    assert "not running" in jkit.cli("stop", "orph", expect=4).stderr


def test_a_reused_pid_is_not_mistaken_for_the_supervisor(jkit):
    jkit.new("reuse")
    jkit.launch("reuse", "local")
    jkit.wait_ended("reuse")
    path = jkit.run_path("reuse") / "training_logs" / "job.json"
    record = json.loads(path.read_text())
    # Pretend the supervisor died without a record and its pid now belongs to this process.
    record.update(state="running", supervisor={**record["supervisor"], "pid": os.getpid()})
    path.write_text(json.dumps(record))
    assert derive_status(load_run(jkit.ws, "reuse")).state == "lost"


def test_attach_refuses_local_runs_and_missing_terminals(jkit):
    jkit.new("al")
    jkit.launch("al", "local")
    result = jkit.cli("attach", "al", expect=2)
    assert "--local" in result.stderr and "logs -F" in result.stderr
    if sessions_available("tmux"):
        jkit.new("at", mode="hang")
        jkit.launch("at", "tmux")
        assert "needs a terminal" in jkit.cli("attach", "at", expect=2).stderr
        jkit.cli("stop", "at", "--force")
        assert jkit.status("at")["signal"] == "SIGKILL"


def test_stop_refuses_a_run_that_is_not_running(jkit):
    jkit.new("idle")
    assert "not running" in jkit.cli("stop", "idle", expect=4).stderr


def test_tail_reads_only_the_end_of_a_big_log(tmp_path):
    from expctl.launchers.control import tail

    log = tmp_path / "stdout.log"
    log.write_bytes(b"".join(b"%d\n" % i for i in range(200_000)) + b"partial")
    text, size = tail(log, 3, block=4096)
    assert text == b"199998\n199999\npartial" and size == log.stat().st_size
    log.write_bytes(b"a\nb\n")
    assert tail(log, 5)[0] == b"a\nb\n" and tail(log, 1)[0] == b"b\n"
    assert tail(log, 0)[0] == b"" and tail(tmp_path / "none", 3) == (b"", 0)


def test_tail_of_a_progress_bar_counts_carriage_returns_and_stops_at_a_cap(tmp_path):
    from expctl.launchers.control import TAIL_MIN_BYTES, tail

    log = tmp_path / "stdout.log"
    bar = b"\r 50%|#####     | 5/10 [00:01<00:01, 3.2it/s]"
    log.write_bytes(b"epoch 1\n" + bar * 50_000 + b"\r100%|done")
    before = log.read_bytes()
    assert tail(log, 2, block=4096) == (bar[1:] + b"\r100%|done", len(before))
    assert log.read_bytes() == before  # the log itself is never touched
    # \r\n is one break, also when a block boundary falls between its two bytes.
    log.write_bytes(b"a\r\nb\r\nc\r\n")
    assert tail(log, 2, block=4)[0] == b"b\r\nc\r\n" and tail(log, 1, block=3)[0] == b"c\r\n"
    log.write_bytes(b"x\xff\ry\xfe\r")  # not UTF-8: bytes pass through as they are
    assert tail(log, 1)[0] == b"y\xfe\r" and tail(log, 5)[0] == b"x\xff\ry\xfe\r"
    # A log without any line break: the last TAIL_MIN_BYTES, not the whole file.
    log.write_bytes(b"0123456789" * (TAIL_MIN_BYTES // 4))
    text = tail(log, 2, block=4096)[0]
    assert len(text) == TAIL_MIN_BYTES and log.read_bytes().endswith(text)
