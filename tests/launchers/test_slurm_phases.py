"""A run trained under Slurm goes through wait, gather, validate and record exactly as one
trained in a screen session: same outputs, same files, same results.

Needs a Slurm cluster (scripts/slurm-dev.sh start) and GNU screen; skipped otherwise."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from standins.kit import child_env, hydra_recipe, make_workspace

pytestmark = [pytest.mark.slurm,
              pytest.mark.skipif(shutil.which("screen") is None, reason="screen is missing")]
PY = sys.executable
LAUNCHER_FILES = re.compile(r"^(slurm-.*|training_logs/slurm-.*)$")  # Slurm's own extras


def expctl(root: Path, env: dict[str, str], *args: str, expect: int = 0) -> str:
    result = subprocess.run([PY, "-m", "expctl", "-C", str(root), *args], env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == expect, f"expctl {' '.join(args)}:\n{result.stderr}"
    return result.stdout + result.stderr


def phases(tmp_path: Path, launcher: str, conf: str) -> dict:
    """Train hydra_6 with `launcher`, then wait, gather, validate and record it."""
    root = tmp_path / launcher
    root.mkdir()
    make_workspace(root, {"hydra": hydra_recipe(tmp_path / f"{launcher}-starts.txt")})
    screens = Path(tempfile.mkdtemp(prefix="exs-", dir="/tmp"))
    (screens / "s").mkdir(mode=0o700)
    env = child_env(SCREENDIR=str(screens / "s"), **({"SLURM_CONF": conf} if conf else {}))
    try:
        outputs = [expctl(root, env, "new", "hydra_6"),
                   expctl(root, env, "launch", "hydra_6", f"--{launcher}")]
        outputs += [expctl(root, env, *step) for step in (
            ("wait", "hydra_6", "--timeout", "60"), ("gather", "hydra_6"),
            ("validate", "hydra_6"), ("record", "hydra_6"), ("status", "hydra_6"))]
    finally:
        subprocess.run(["screen", "-wipe"], env=env, capture_output=True)
        shutil.rmtree(screens, ignore_errors=True)
    run = root / "runs" / "hydra_6"
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    return {"outputs": outputs, "root": root,
            "files": [f for f in files if not LAUNCHER_FILES.match(f)],
            "results": json.loads((run / "experiment_results.json").read_text())}


def normalised(text: str, root: Path) -> str:
    text = text.replace(str(root), "ROOT")
    text = re.sub(r"\d{4}-\d\d-\d\d[T ][\d:.]+(\+\d\d:\d\d)?", "TIME", text)
    text = re.sub(r"\b\d+(\.\d+)?s\b", "N s", text)  # durations
    text = re.sub(r"\b[0-9a-f]{10,40}\b", "SHA", text)  # commits of the two repositories
    text = re.sub(r"dummy/[a-z0-9]{8}/", "dummy/ID/", text)  # the stand-in's random folders
    # `wait`'s progress lines while running
    text = re.sub(r"(?m)^\S+(?: training)?: [?\d]+/[?\d]+\n", "", text)
    return re.sub(r"[ \t]+", " ", text)


def test_slurm_phases_behave_as_with_screen(tmp_path: Path, slurm_conf: str) -> None:  # noqa: F811
    screen = phases(tmp_path, "screen", slurm_conf)
    slurm = phases(tmp_path, "slurm", slurm_conf)
    assert slurm["files"] == screen["files"]
    for key in ("metrics", "criteria", "run_id"):
        assert slurm["results"].get(key) == screen["results"].get(key), key
    # new, wait, gather, validate and record print the same; launch and status name the
    # launcher (screen session / Slurm job, node), which is the point of them.
    for index in (0, 2, 3, 4, 5):
        assert normalised(slurm["outputs"][index], slurm["root"]) == \
            normalised(screen["outputs"][index], screen["root"]), index
    assert "slurm job" in slurm["outputs"][1] and "node" in slurm["outputs"][6]
    assert "finished" in slurm["outputs"][6] and "finished" in screen["outputs"][6]
    # Both ran the training once, in their own workspace.
    for launcher in ("screen", "slurm"):
        assert (tmp_path / f"{launcher}-starts.txt").read_text().split() == ["hydra_6"]


def test_cycle_and_validate_with_the_slurm_flag(tmp_path: Path, slurm_conf: str) -> None:  # noqa: F811
    """`cycle --slurm` trains as a Slurm job; `validate --slurm` validates as one."""
    root = tmp_path / "ws"
    root.mkdir()
    make_workspace(root, {"hydra": hydra_recipe(tmp_path / "starts.txt")})
    env = child_env(SLURM_CONF=slurm_conf)
    out = expctl(root, env, "cycle", "hydra_6", "--slurm")
    assert "cycle of hydra_6 complete" in out
    run = root / "runs" / "hydra_6"
    launch = json.loads((run / "launch.json").read_text())
    assert launch["launcher"] == "slurm"
    assert json.loads((run / "experiment_results.json").read_text())["metrics"]
    out = expctl(root, env, "validate", "hydra_6", "--slurm")
    job = re.search(r"validating hydra_6 in slurm job (\d+)", out)
    assert job, out
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # poll until the job has left the queue
        queue = subprocess.run(["squeue", "-h", "-j", job.group(1), "-o", "%T"], env=env,
                               capture_output=True, text=True)
        if not queue.stdout.strip():
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"slurm job {job.group(1)} still queued: {queue.stdout}")
    record = json.loads((run / "validation_results" / "validation.json").read_text())
    assert record["exit_code"] == 0 and record["ended"], record
    exit_file = run / "training_logs" / f"slurm-{job.group(1)}.exit.json"  # the batch script's
    assert exit_file.is_file(), sorted(p.name for p in (run / "training_logs").iterdir())
