"""Progress you can see: `cycle` on a terminal shows the training's live progress as `wait`
does (step/planned, elapsed since the job started, one ETA, the latest loss), `wait` prints
plain lines when piped, and Ctrl-C in a watching command says that the job goes on."""

from __future__ import annotations

import os
import pty
import re
import select
import termios
import time
from pathlib import Path

import pytest
from standins.kit import PY, child_env, cli, git, make_workspace

# An argparse + JSONL stand-in: two steps, then it holds until the test creates `gate`.
TRAIN = """\
import argparse, json, os, pathlib, time
p = argparse.ArgumentParser()
p.add_argument("--steps", type=int)
a = p.parse_args()
path = pathlib.Path(os.environ["EXPCTL_RUN_DIR"]) / "metrics.jsonl"
for step in range(1, a.steps + 1):
    while step > 2 and not pathlib.Path("gate").exists():
        time.sleep(0.02)
    with open(path, "a") as f:
        f.write(json.dumps({"step": step, "loss": 1.0 / step}) + "\\n")
    print(f"step {step}", flush=True)
"""
# `isolation: none`: the job runs in the workspace's work/, where the test puts the gate.
RECIPE = f"""\
description: a stand-in that holds at step 2
isolation: none
command: ["{PY}", "../train.py", "--steps", "{{steps}}"]
steps_param: train.steps
params: {{train: {{steps: 5}}}}
launch: {{workdir: work}}
validate:
  command: ["{PY}", "-c", "import json, os; json.dump({{'map': 0.4}}, open(os.path.join(
    os.environ['EXPCTL_RUN_DIR'], 'validation_results', 'metrics.json'), 'w'))"]
metrics:
  primary: map
  sources: [{{kind: json, path: validation_results/metrics.json, metrics: {{map: map}}}}]
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
PROGRESS = re.compile(r"(\d+)/5\b[^\r\n]*?([\d.]+s|\d+m\d+s) elapsed · eta \S+ · loss 0\.5000")


@pytest.fixture()
def ws(tmp_path: Path):
    root = make_workspace(tmp_path, {"hold": RECIPE}, settings="\nlauncher: local\n")
    (root / "train.py").write_text(TRAIN)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "stand-in")
    yield root
    for launch in (root / "runs").glob("*/launch.json"):  # jobs a test left holding at its gate
        cli(root, "stop", launch.parent.name, "--force", check=False)


class Terminal:
    """`expctl ARGS` on a pseudo-terminal of its own (its controlling tty, so ^C is SIGINT)."""

    def __init__(self, root: Path, *args: str):
        env = {**child_env(), "COLUMNS": "160", "LINES": "40", "TERM": "xterm"}
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become expctl
            # ^C makes the kernel discard output not yet read from the terminal, which can
            # include the reply to it when expctl answers fast: keep that output (NOFLSH).
            attrs = termios.tcgetattr(0)
            attrs[3] |= termios.NOFLSH
            termios.tcsetattr(0, termios.TCSANOW, attrs)
            os.chdir(root)
            os.execvpe(PY, [PY, "-m", "expctl", *args], env)
        self.text = ""

    def read_until(self, pattern: re.Pattern | str, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.text)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} on the terminal:\n{self.text}")
            self._read(0.1)

    def finish(self, timeout: float = 120) -> int:
        """Read to the end; the exit code."""
        deadline = time.monotonic() + timeout
        while self._read(0.1) and time.monotonic() < deadline:
            pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)

    def _read(self, wait: float) -> bool:
        """False at the end of output."""
        ready, _, _ = select.select([self.fd], [], [], wait)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.text += ANSI.sub("", data.decode(errors="replace")).replace("\r\n", "\n")
        return bool(data)


def job_state(root: Path, run_id: str) -> str:
    from expctl.runs import load_run
    from expctl.state import run_state
    from expctl.workspace import Workspace

    return run_state(load_run(Workspace(root), run_id))


def test_cycle_on_a_terminal_shows_the_training_progress(ws: Path) -> None:
    term = Terminal(ws, "cycle", "hold_5")
    shown = term.read_until(PROGRESS)  # the job holds at step 2: this is during training
    assert shown.group(1) == "2" and job_state(ws, "hold_5") == "running"
    lines = re.split(r"[\r\n]", term.text)
    progress = [line for line in lines if "hold_5 training" in line and "elapsed" in line]
    assert progress and all(line.count("eta") == 1 for line in progress), progress
    (ws / "work" / "gate").write_text("")
    assert term.finish() == 0, term.text
    assert "cycle of hold_5 complete" in term.text


def test_wait_counts_from_the_job_start_and_ctrl_c_says_the_job_goes_on(ws: Path) -> None:
    cli(ws, "new", "hold_5")
    cli(ws, "launch", "hold_5")
    started = time.monotonic()  # the job started before this
    metrics = ws / "runs" / "hold_5" / "metrics.jsonl"
    deadline = time.monotonic() + 30
    while not (metrics.exists() and '"step": 2' in metrics.read_text()):
        assert time.monotonic() < deadline, "the job never reached step 2"
        time.sleep(0.05)
    while time.monotonic() - started < 2.0:  # let the job's clock run ahead of `wait`'s
        time.sleep(0.05)
    # Piped: plain lines, elapsed time counted from the job's start, not from `wait`'s.
    piped = cli(ws, "wait", "hold_5", "--timeout", "0.3", check=False)
    assert piped.returncode == 124, piped.stderr
    line = next(x for x in piped.stderr.splitlines() if x.startswith("hold_5 training: 2/5"))
    seconds = float(re.search(r"· ([\d.]+)s elapsed", line).group(1))
    assert seconds >= 1.5 and line.count("eta") == 1, line

    term = Terminal(ws, "wait", "hold_5")
    term.read_until(PROGRESS)
    os.write(term.fd, b"\x03")  # Ctrl-C, typed on the terminal
    code = term.finish()
    assert code == 130, term.text
    assert "goes on" in term.text and "`expctl stop hold_5`" in term.text
    assert job_state(ws, "hold_5") == "running"  # the job was not touched
    follow = Terminal(ws, "logs", "-F", "hold_5")  # `logs -F` says the same
    follow.read_until("step 2")
    os.write(follow.fd, b"\x03")
    assert follow.finish() == 130 and "`expctl stop hold_5`" in follow.text, follow.text
    assert job_state(ws, "hold_5") == "running"
    (ws / "work" / "gate").write_text("")
    assert cli(ws, "wait", "hold_5").returncode == 0


def test_ctrl_c_in_cycle_leaves_the_training_running_and_says_how_to_stop_it(ws: Path) -> None:
    term = Terminal(ws, "cycle", "hold_5")
    term.read_until(PROGRESS)
    os.write(term.fd, b"\x03")
    assert term.finish() == 130, term.text
    assert "training of run hold_5 goes on" in term.text
    assert "`expctl stop hold_5`" in term.text and "`expctl cycle hold_5`" in term.text
    assert job_state(ws, "hold_5") == "running"
    (ws / "work" / "gate").write_text("")
    again = cli(ws, "cycle", "hold_5")  # continues: waits, validates, records
    assert "launch: skipped" in again.stderr and "cycle of hold_5 complete" in again.stderr
