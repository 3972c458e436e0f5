"""The supervisor on its own: byte-exact copying, signals, the environment file, records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from launchkit import pid_alive, wait_until

PY = sys.executable


def write_spec(run_dir: Path, argv: list[str], **extra) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = {"launch_id": "t1", "argv": argv, "cwd": str(run_dir), "env": {"E1": "one"}, **extra}
    path = run_dir / "launch.json"
    path.write_text(json.dumps(spec))
    return path


def supervise(spec: Path, **popen) -> subprocess.Popen:
    return subprocess.Popen([PY, "-m", "expctl.launchers.supervisor", str(spec)],
                            stdin=subprocess.DEVNULL, **popen)


def record(run_dir: Path) -> dict:
    path = run_dir / "training_logs" / "job.json"
    return json.loads(path.read_text()) if path.exists() else {}


def test_output_is_copied_byte_for_byte_to_the_log(tmp_path):
    # Binary noise, carriage returns, NULs, 2 MB in odd-sized writes, no final newline.
    script = ("import os, random\nrandom.seed(7)\n"
              "data = bytes(random.randrange(256) for _ in range(2_000_000)) + b'\\r\\0end'\n"
              "open('expected.bin', 'wb').write(data)\n"
              "i = 0\nwhile i < len(data):\n    n = random.randrange(1, 9000)\n"
              "    os.write(1 if i % 2 else 2, data[i:i + n]); i += n\n")
    spec = write_spec(tmp_path, [PY, "-c", script])
    # A stdout nobody reads: the window copy is best effort and must never stall the job.
    with open(os.devnull, "wb") as sink:
        proc = supervise(spec, stdout=sink)
        assert proc.wait(timeout=60) == 0
    expected = (tmp_path / "expected.bin").read_bytes()
    assert (tmp_path / "training_logs" / "stdout.log").read_bytes() == expected
    assert record(tmp_path)["exit_code"] == 0


def test_output_also_goes_to_the_supervisors_stdout(tmp_path):
    spec = write_spec(tmp_path, [PY, "-c", "for i in range(100): print('line', i)"])
    proc = supervise(spec, stdout=subprocess.PIPE)
    echoed, _ = proc.communicate(timeout=30)
    assert echoed == (tmp_path / "training_logs" / "stdout.log").read_bytes()
    assert echoed.count(b"\n") == 100


def test_environment_comes_from_the_private_file_which_is_then_removed(tmp_path):
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"PATH": os.environ["PATH"], "FROM_FILE": "yes",
                                    "E1": "overridden by launch.json"}))
    script = ("import os; print(os.environ.get('FROM_FILE'), os.environ['E1'], "
              "os.environ.get('STY'), os.environ.get('NOT_FROM_FILE'))")
    spec = write_spec(tmp_path, [PY, "-c", script], env_file=str(env_file))
    env = {**os.environ, "STY": "123.session", "NOT_FROM_FILE": "leak"}
    proc = supervise(spec, stdout=subprocess.DEVNULL, env=env)
    assert proc.wait(timeout=30) == 0
    assert (tmp_path / "training_logs" / "stdout.log").read_text() == "yes one 123.session None\n"
    assert not env_file.exists()


def test_sighup_is_forwarded_then_a_deaf_job_is_killed(tmp_path):
    script = "trap '' HUP; echo ready; sleep 300 & wait"
    spec = write_spec(tmp_path, ["sh", "-c", script], hup_grace_s=0.3)
    proc = supervise(spec, stdout=subprocess.DEVNULL)
    log = tmp_path / "training_logs" / "stdout.log"
    wait_until(lambda: log.exists() and b"ready" in log.read_bytes(), what="the job's output")
    job_pid = record(tmp_path)["job_pid"]
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=15) == 128 + signal.SIGKILL
    rec = record(tmp_path)
    assert (rec["signal"], rec["stop_signal"], rec["exit_code"]) == ("SIGKILL", "SIGHUP", None)
    assert not pid_alive(job_pid)


def test_sigint_reaches_the_whole_group_and_is_recorded(tmp_path):
    script = ("import subprocess, time; subprocess.Popen(['sleep', '300']); "
              "print('ready', flush=True); time.sleep(300)")
    spec = write_spec(tmp_path, [PY, "-c", script])
    proc = supervise(spec, stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 128 + signal.SIGINT
    rec = record(tmp_path)
    assert (rec["state"], rec["signal"], rec["stop_signal"]) == ("ended", "SIGINT", "SIGINT")
    assert rec["started"] < rec["ended"] and rec["elapsed_s"] > 0
    assert rec["supervisor"]["pid"] == proc.pid and rec["launch_id"] == "t1"
    proc.stdout.close()


@pytest.mark.parametrize("argv", [[], ["a", "b"]])
def test_wrong_usage_exits_2(argv):
    result = subprocess.run([PY, "-m", "expctl.launchers.supervisor", *argv],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "usage" in result.stderr
