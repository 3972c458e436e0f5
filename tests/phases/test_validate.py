"""A foreground `expctl validate` ended by SIGTERM records the interruption, like Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from standins.kit import child_env, make_workspace

RECIPE = """\
description: slow validation
command: "true"
validate:
  command: ["python", "-c", "import time; print('validating', flush=True); time.sleep(60)"]
"""


def test_sigterm_during_validation_is_recorded(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, {"slow": RECIPE})
    subprocess.run([sys.executable, "-m", "expctl", "-C", str(root), "new", "slow"],
                   env=child_env(), check=True, capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "expctl", "-C", str(root), "validate", "slow"],
                            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    log = root / "runs" / "slow" / "validation_results" / "validation_output.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and b"validating" not in (
            log.read_bytes() if log.exists() else b""):
        time.sleep(0.05)  # polling for the child's first line, not synchronising by time
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert b"error: terminated" in err and b"Traceback" not in err
    record = json.loads((log.parent / "validation.json").read_text())
    assert record["ended"] and record["error"] == "interrupted"
    assert record["exit_code"] is not None
