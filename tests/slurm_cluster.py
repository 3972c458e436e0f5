"""The dev Slurm cluster for tests (scripts/slurm-dev.sh start): found through SLURM_CONF,
else the env file the script writes; `slurm_conf` skips a test, saying how to start one, where
no controller answers."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from launchkit import LaunchKit

DEV_ENV_FILE = Path(os.environ.get("EXPCTL_SLURM_DEV_DIR", "/tmp/expctl-slurm-dev")) / "env"


def _slurm_conf() -> str | None:
    if os.environ.get("SLURM_CONF"):
        return os.environ["SLURM_CONF"]
    try:
        text = DEV_ENV_FILE.read_text()
    except OSError:
        return None
    found = re.search(r"^export SLURM_CONF=(\S+)$", text, re.MULTILINE)
    return found.group(1) if found else None


@pytest.fixture(scope="module")
def slurm_conf() -> str:
    conf = _slurm_conf()
    try:
        env = {**os.environ, **({"SLURM_CONF": conf} if conf else {})}
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, env=env,
                              timeout=15)
        up = "UP" in ping.stdout
    except (OSError, subprocess.TimeoutExpired):
        up = False
    if not up:
        pytest.skip("no Slurm cluster reachable (SLURM_CONF or "
                    f"{DEV_ENV_FILE}): start one with `scripts/slurm-dev.sh start`")
    return conf or ""


@pytest.fixture()
def skit(tmp_path: Path, slurm_conf: str, monkeypatch: pytest.MonkeyPatch):
    """A LaunchKit whose commands (and in-process queries) reach the cluster; cancels the
    Slurm jobs of its runs at the end."""
    if slurm_conf:
        monkeypatch.setenv("SLURM_CONF", slurm_conf)
    kit = LaunchKit(tmp_path)
    kit.env["SLURM_CONF"] = slurm_conf or kit.env.get("SLURM_CONF", "")
    yield kit
    for launch in tmp_path.glob("runs/*/launch.json"):
        job_id = str(json.loads(launch.read_text()).get("session") or "")
        if job_id.isdigit():
            subprocess.run(["scancel", job_id], capture_output=True, timeout=30)
    kit.cleanup()
