"""The workspace queue for real: `launch --queue` with the detached scheduler, a stand-in
training script that logs its start and end, 2 GPUs from expctl.yaml on a machine that has
none (the GPUs are simulated: only CUDA_VISIBLE_DEVICES is handed out and checked)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
from launchkit import LaunchKit, pid_alive, sessions_available, wait_until

from expctl.queue import store

# Prints an argparse + JSONL style line, logs start/end with its GPUs, sleeps, exits `code`.
STANDIN = r'''
import json, os, sys, time
seconds, code = float(sys.argv[1]), int(sys.argv[2])
log = os.path.join(os.path.dirname(os.path.dirname(os.environ["EXPCTL_RUN_DIR"])), "times.jsonl")
def note(event):
    with open(log, "a") as f:
        f.write(json.dumps({"run": os.environ["EXPCTL_RUN_ID"], "event": event,
                            "t": time.time(), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
                            "session": os.environ.get("STY") or os.environ.get("TMUX")})
                + "\n")
note("start")
print(json.dumps({"epoch": 0, "loss": 1.0}), flush=True)
time.sleep(seconds)
note("end")
sys.exit(code)
'''
RECIPE = {"command": [sys.executable, "{workspace}/standin.py", "{seconds}", "{code}"],
          "params": {"seconds": 0.6, "code": 0}}
SETTINGS = "launcher: local\nqueue: {gpus: [0, 1]}\n"
TIMEOUT_S = 90.0


@pytest.fixture()
def kit(tmp_path: Path):
    kit = LaunchKit(tmp_path, RECIPE)
    (tmp_path / "standin.py").write_text(STANDIN)
    (tmp_path / "expctl.yaml").write_text(SETTINGS)
    yield kit
    info = store.queue_dir(tmp_path) / "scheduler.json"
    if info.exists() and store.scheduler_running(store.queue_dir(tmp_path)):
        pid = json.loads(info.read_text())["pid"]  # the lock holder: ours, still running
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    kit.cleanup()


def events(kit: LaunchKit) -> list[dict]:
    path = kit.root / "times.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def intervals(kit: LaunchKit) -> dict[str, tuple[float, float, str]]:
    """run -> (start, end, CUDA_VISIBLE_DEVICES), each run started exactly once."""
    found: dict[str, dict] = {}
    for e in events(kit):
        assert e["event"] not in found.setdefault(e["run"], {}), f"{e['run']} {e['event']} twice"
        found[e["run"]][e["event"]] = e
    return {r: (v["start"]["t"], v["end"]["t"], v["start"]["cuda"]) for r, v in found.items()}


def most_at_once(spans) -> int:
    points = sorted([(s, 1) for s, _, _ in spans] + [(e, -1) for _, e, _ in spans])
    now = top = 0
    for _, step in points:
        now += step
        top = max(top, now)
    return top


def all_ended(kit: LaunchKit, ids) -> None:
    wait_until(lambda: all(kit.job(i).get("state") == "ended" for i in ids), TIMEOUT_S,
               f"runs {ids} to end", interval=0.1)


def test_six_runs_on_two_gpus_never_overlap_and_a_failure_stops_nothing(kit) -> None:
    ids = [f"r{i}" for i in range(6)]
    for i, run_id in enumerate(ids):
        kit.new(run_id, code=3 if i == 1 else 0)
    out = kit.cli("launch", *ids, "--queue").stderr
    assert "queued run r5 (position 6)" in out
    all_ended(kit, ids)
    spans = intervals(kit)
    assert set(spans) == set(ids)
    assert most_at_once(spans.values()) <= 2
    for a, (s1, e1, gpu1) in spans.items():
        assert gpu1 in ("0", "1"), f"{a} saw CUDA_VISIBLE_DEVICES={gpu1}"
        for b, (s2, e2, gpu2) in spans.items():
            if a < b and s1 < e2 and s2 < e1:  # overlapping runs: never the same GPU
                assert gpu1 != gpu2, f"{a} and {b} shared GPU {gpu1}"
    states = {i: kit.status(i) for i in ids}
    assert {i: s["state"] for i, s in states.items()} == \
        {i: "failed" if i == "r1" else "finished" for i in ids}
    assert states["r1"]["exit_code"] == 3
    assert all(s["attempt"] == 1 for s in states.values())
    wait_until(lambda: not store.has_entries(store.queue_dir(kit.root)), 10, "an empty queue")
    wait_until(lambda: not store.scheduler_running(store.queue_dir(kit.root)), 10,
               "the scheduler to exit")
    assert "no runs" not in kit.cli("ls").stdout


def test_an_after_chain_runs_in_order_and_a_failed_dependency_blocks(kit) -> None:
    for run_id in ("a", "b", "c"):
        kit.new(run_id)
    kit.new("bad", code=4)
    kit.new("never")
    kit.cli("queue", "pause")  # queue everything first, then let it go
    kit.cli("launch", "c", "--queue", "--after", "b")
    kit.cli("launch", "b", "--queue", "--after", "a")
    kit.cli("launch", "never", "--queue", "--after", "bad", "--priority", "5")
    kit.cli("launch", "a", "bad", "--queue")
    listing = json.loads(kit.cli("queue", "--format", "json").stdout)
    assert [(r["position"], r["run"]) for r in listing] == \
        [(1, "never"), (2, "c"), (3, "b"), (4, "a"), (5, "bad")]
    wait_until(lambda: "queue paused" in kit.cli("status", "a").stdout, 20, "the pause reason")
    assert "waiting for run b (queued)" in kit.cli("status", "c").stdout
    kit.cli("queue", "resume")
    all_ended(kit, ["a", "b", "c", "bad"])
    spans = intervals(kit)
    assert spans["a"][1] <= spans["b"][0] and spans["b"][1] <= spans["c"][0]
    wait_until(lambda: kit.status("never")["state"] == "blocked", 20, "never to be blocked")
    assert "blocked (run bad failed)" in kit.cli("status", "never").stdout
    assert "never" not in spans and not (kit.run_path("never") / "launch.json").exists()
    assert kit.cli("wait", "never", expect=125).stderr.strip().endswith("blocked (run bad failed)")
    row = json.loads(kit.cli("queue", "--format", "json").stdout)
    assert [(r["run"], r["state"], r["reason"]) for r in row] == \
        [("never", "blocked", "run bad failed")]
    kit.cli("queue", "cancel", "never")
    assert kit.status("never")["state"] == "created"
    assert kit.cli("queue", "cancel", "never", expect=3).stderr


def test_a_killed_scheduler_starts_nothing_twice_and_the_queue_goes_on(kit) -> None:
    ids = [f"k{i}" for i in range(5)]
    for run_id in ids:  # long enough that the first two still run when the second starts,
        kit.new(run_id, seconds=6.0)  # however slowly a loaded machine launches them
    kit.cli("launch", *ids, "--queue")
    wait_until(lambda: sum(1 for e in events(kit) if e["event"] == "start") == 2, 30,
               "two runs to start")
    pid = json.loads((store.queue_dir(kit.root) / "scheduler.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), 10, "the scheduler to die")
    running = [i for i in ids if kit.state(i) == "running"]
    assert len(running) == 2  # the jobs outlive their scheduler
    assert kit.status(ids[4])["state"] == "queued"
    kit.cli("ls")  # any command brings a scheduler back
    all_ended(kit, ids)
    spans = intervals(kit)  # asserts each run started once
    assert set(spans) == set(ids) and most_at_once(spans.values()) <= 2
    assert all(kit.status(i)["attempt"] == 1 for i in ids)


def test_a_start_decided_before_a_crash_is_settled_from_the_run(kit) -> None:
    """A scheduler killed after writing `starting`: the next one reads the run's launch.json
    (here: one launched, one not) and never launches the launched one again."""
    qdir = store.queue_dir(kit.root)
    kit.new("went")
    kit.new("not_yet")
    kit.cli("launch", "went", "--local")
    all_ended(kit, ["went"])
    for run_id, before in (("went", 0), ("not_yet", 0)):
        store.write_entry(qdir, store.Entry(run_id=run_id, seq=store.arrival(), queued="",
                                            state="starting", devices=[0], attempt_before=before))
    kit.cli("queue")  # wakes a scheduler, which settles both entries
    all_ended(kit, ["not_yet"])
    assert kit.status("went")["attempt"] == 1 and kit.status("not_yet")["attempt"] == 1
    assert [e["run"] for e in events(kit) if e["event"] == "start"] == ["went", "not_yet"]


def test_commands_queueing_at_once_share_one_scheduler(kit) -> None:
    import subprocess

    from launchkit import EXPCTL

    ids = [f"c{i}" for i in range(4)]
    for run_id in ids:
        kit.new(run_id, seconds=1.0)
    procs = [subprocess.Popen([EXPCTL, *args], cwd=kit.root, env=kit.env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
             for args in (["launch", "c0", "c1", "--queue"], ["launch", "c2", "c3", "--queue"],
                          ["ls"], ["queue"], ["ls"])]
    for proc in procs:
        _, err = proc.communicate(timeout=180)  # five CLIs at once on a loaded machine
        assert proc.returncode == 0, err
    all_ended(kit, ids)
    spans = intervals(kit)
    assert set(spans) == set(ids) and most_at_once(spans.values()) <= 2
    log = (store.queue_dir(kit.root) / "scheduler.log").read_text()
    assert log.count(" up: GPUs 0,1") == 1, log


@pytest.mark.parametrize("launcher", [
    pytest.param(name, marks=pytest.mark.skipif(not sessions_available(name),
                                                 reason=f"{name} is not installed"))
    for name in ("screen", "tmux")])
def test_runs_queued_with_a_session_launcher_run_in_their_own_real_sessions(kit, launcher):
    """Three overlapping runs queued with --screen / --tmux on two GPUs: the scheduler starts
    each in a real session of its own (the job sees STY or TMUX), two at a time, all finish."""
    ids = [f"{launcher}{i}" for i in range(3)]
    for run_id in ids:
        kit.new(run_id, seconds=2.0)
    kit.cli("launch", *ids, "--queue", f"--{launcher}")
    all_ended(kit, ids)
    spans = intervals(kit)
    assert set(spans) == set(ids)
    assert most_at_once(spans.values()) == 2  # overlapping, never more than the two GPUs
    sessions = {e["run"]: e["session"] for e in events(kit) if e["event"] == "start"}
    assert all(sessions.values()), sessions  # inside screen (STY) or tmux (TMUX)
    assert len(set(sessions.values())) == len(ids)  # a session each
    for run_id in ids:
        status = kit.status(run_id)
        assert (status["state"], status["launcher"], status["attempt"]) == \
            ("finished", launcher, 1)
        assert status["session"]
