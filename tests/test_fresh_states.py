"""`ls` shows the state `status` shows, however the job was started, without `reindex`: the
launch phase indexes the run before anything is printed, and a launched run whose row still
says `created` is derived again from its folder when listed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import registry_execute, registry_rows  # noqa: E402
from standins.kit import PY, child_env, cli, hydra_recipe, make_workspace  # noqa: E402


@pytest.fixture()
def hydra_ws(tmp_path: Path) -> Path:
    (tmp_path / "ws").mkdir()
    return make_workspace(tmp_path / "ws", {"hydra": hydra_recipe(tmp_path / "starts.txt")})


def listed(root: Path, *args: str) -> dict[str, str]:
    rows = json.loads(cli(root, "ls", "--format", "json", *args).stdout)["runs"]
    return {r["id"]: r["status"] for r in rows}


def row_status(root: Path, run_id: str) -> str:
    return registry_rows(root, "SELECT status FROM runs WHERE id = :id", {"id": run_id})[0][0]


def test_a_failed_cycle_is_listed_as_failed_without_reindex(hydra_ws: Path):
    done = cli(hydra_ws, "cycle", "hydra_6", "--local", "--set", "fail_with=3", check=False)
    assert done.returncode == 3, done.stderr
    assert listed(hydra_ws, "--status", "failed") == {"hydra_6": "failed"}
    assert listed(hydra_ws, "--status", "created") == {}


def test_ls_during_a_running_cycle_shows_running(hydra_ws: Path, tmp_path: Path):
    gate = tmp_path / "gate"
    cycle = subprocess.Popen(
        [PY, "-m", "expctl", "-C", str(hydra_ws), "cycle", "hydra_6", "--local",
         "--set", f"gate_file={gate}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=child_env())
    try:
        for line in cycle.stderr:  # blocks until the cycle reports that training runs
            if line.startswith("wait: start"):
                break
        assert listed(hydra_ws) == {"hydra_6": "running"}
        assert listed(hydra_ws, "--status", "running") == {"hydra_6": "running"}
    finally:
        gate.write_text("go")
        rest = cycle.stderr.read()
        assert cycle.wait(timeout=120) == 0, rest
        cycle.stderr.close()
    assert listed(hydra_ws) == {"hydra_6": "finished"}


def test_launch_into_a_closed_pipe_still_updates_the_row(hydra_ws: Path, tmp_path: Path):
    gate = tmp_path / "gate"
    cli(hydra_ws, "new", "hydra_6", "--set", f"gate_file={gate}")
    assert row_status(hydra_ws, "hydra_6") == "created"
    # `head -1` exits after the first line: the next message meets a closed pipe.
    script = (f"{PY} -m expctl -C {hydra_ws} launch hydra_6 --local 2>&1 | head -1; "
              "exit ${PIPESTATUS[0]}")
    piped = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                           env=child_env(), timeout=120)
    assert piped.stdout.startswith("launched run hydra_6"), piped.stdout + piped.stderr
    assert row_status(hydra_ws, "hydra_6") == "running"  # written before anything printed
    gate.write_text("go")
    cli(hydra_ws, "wait", "hydra_6", "--timeout", "60")
    assert listed(hydra_ws) == {"hydra_6": "finished"}


def test_a_launched_run_whose_row_says_created_is_derived_again(hydra_ws: Path):
    cli(hydra_ws, "new", "hydra_6", "--set", "fail_with=4")
    cli(hydra_ws, "launch", "hydra_6", "--local")
    cli(hydra_ws, "wait", "hydra_6", "--timeout", "60", check=False)
    # A command that started the job but died before it could index it leaves the row so.
    registry_execute(hydra_ws, "UPDATE runs SET status = 'created' WHERE id = 'hydra_6'")
    assert listed(hydra_ws, "--status", "failed") == {"hydra_6": "failed"}
    assert row_status(hydra_ws, "hydra_6") == "failed"  # stored, not only shown


def test_a_detached_cycle_is_listed_running_then_finished(hydra_ws: Path, tmp_path: Path):
    import time

    gate = tmp_path / "gate"
    cli(hydra_ws, "cycle", "hydra_6", "--detach", "--local", "--set", f"gate_file={gate}")
    job = hydra_ws / "runs" / "hydra_6" / "training_logs" / "job.json"
    deadline = time.monotonic() + 60
    while not (job.exists() and '"running"' in job.read_text()):  # the job has started
        assert time.monotonic() < deadline, "the detached cycle never started the job"
        time.sleep(0.05)
    status = json.loads(cli(hydra_ws, "status", "hydra_6", "--format", "json").stdout)
    assert status["state"] == "running"
    assert listed(hydra_ws) == {"hydra_6": "running"}
    gate.write_text("go")
    log = hydra_ws / "runs" / "hydra_6" / "training_logs" / "cycle.log"
    while "cycle: done" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline + 120, "the detached cycle did not finish"
        time.sleep(0.05)
    assert listed(hydra_ws, "--status", "finished") == {"hydra_6": "finished"}
