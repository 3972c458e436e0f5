"""`expctl tensorboard`: a real TensorBoard over the selected runs, named by run id."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from helpers import expctl_script
from report_study import make_study, write_events


def read_line(process: subprocess.Popen, stream, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if line:
            return line
        if process.poll() is not None:
            break
    raise AssertionError(f"no line from expctl tensorboard (exit {process.poll()})")


def test_serves_the_runs_by_id_until_ctrl_c(workspace: Path) -> None:
    make_study(workspace, matrices=False)
    write_events(workspace / "runs" / "study" / "training_logs" / "tensorboard",
                 [(0, 3.5), (1, 3.0)])
    process = subprocess.Popen([expctl_script(), "tensorboard", "study", "study_lb2"],
                               cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        told = read_line(process, process.stderr, 120)
        url = read_line(process, process.stdout, 120).strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", url), url
        assert "TensorBoard over 2 runs (study, study_lb2)" in told
        logdir = Path(re.search(r"linked in (\S+);", told).group(1))
        assert sorted(p.name for p in logdir.iterdir()) == ["study", "study_lb2"]
        deadline = time.monotonic() + 60
        runs: list = []
        while time.monotonic() < deadline and sorted(runs) != ["study", "study_lb2"]:
            with urllib.request.urlopen(url + "data/runs", timeout=10) as answer:
                runs = json.loads(answer.read())
            time.sleep(0.5)
        assert sorted(runs) == ["study", "study_lb2"]
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=60) == 0
        assert "stopped TensorBoard" in process.stderr.read()
        assert not logdir.parent.exists()  # the folder of links is gone
        try:
            urllib.request.urlopen(url + "data/runs", timeout=5)
            raise AssertionError("TensorBoard still answers")
        except OSError:
            pass
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


MISSING = """
import sys
sys.modules["tensorboard"] = None  # stands for a missing package: find_spec then says None
from expctl.cli import main
sys.argv = ["expctl", "tensorboard"]
main()
"""


def test_without_tensorboard_or_event_files(workspace: Path, cli) -> None:
    make_study(workspace, matrices=False)
    done = subprocess.run([sys.executable, "-c", MISSING], cwd=workspace, capture_output=True,
                          text=True, timeout=60, env={**os.environ})
    assert done.returncode == 6
    assert done.stderr.startswith("error: `tensorboard` is not installed.\nhint: install it: ")
    code, out, err = cli("tensorboard", "study_lb3")
    assert (code, out) == (3, "")
    assert err.startswith("error: None of the runs has TensorBoard event files.")
