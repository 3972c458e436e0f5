"""A full disk: a job on a 2 MB tmpfs that fills it and exits 0 is `finished` (its exit
record overwrites the space reserved when it started), and every command then says in one
line that the disk is full: no `internal error`, no "disk I/O error", nothing half-written.

Needs root and a kernel that lets this container mount tmpfs; skipped with the reason if not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import small_disk
from launchkit import LaunchKit

# Writes until the disk is full, says so (the supervisor may not manage to log it) and exits 0.
FILL_JOB = r'''
import errno, os
path = os.path.join(os.environ["EXPCTL_RUN_DIR"], "fill.bin")
written = 0
try:
    with open(path, "wb", buffering=0) as f:
        while True:
            written += f.write(b"\0" * 65536)
except OSError as exc:
    assert exc.errno == errno.ENOSPC, exc
print(f"filled after {written} bytes", flush=True)
print("more output that no longer fits " * 100, flush=True)
'''

RECIPE = {
    "description": "fills its disk",
    "command": [sys.executable, "{workspace}/fill.py"],
    "steps_param": "steps",
    "params": {"steps": 10},
}


@pytest.fixture()
def disk(tmp_path: Path):
    yield from small_disk(tmp_path, "2m")


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def one_line_disk_full(result: subprocess.CompletedProcess) -> None:
    err = result.stderr
    assert result.returncode == 1, (result.returncode, err)
    assert "disk is full" in err, err
    for bad in ("internal error", "Traceback", "disk I/O error", "corrupt", "reindex"):
        assert bad not in err, err
    assert len([line for line in err.splitlines() if line.startswith("error")]) == 1, err


def test_a_job_that_fills_its_disk_and_exits_0_is_finished(disk: Path):
    (disk / "ws").mkdir()
    kit = LaunchKit(disk / "ws", RECIPE)
    try:
        (disk / "ws" / "fill.py").write_text(FILL_JOB)
        kit.new("later")  # created while there was room; launched once the disk is full
        kit.new("fill")
        kit.cli("ls")  # the registry exists and holds both runs before the disk fills
        kit.launch("fill", "local")
        record = kit.wait_ended("fill", timeout=60)
        assert free_bytes(disk) < 64 * 1024  # the job did fill it
        assert (record["exit_code"], record["signal"]) == (0, None)
        st = kit.status("fill")
        assert (st["state"], st["exit_code"]) == ("finished", 0)
        kit.cli("wait", "fill", expect=0)
        # Every command that must write says the disk is full, in one line.
        one_line_disk_full(kit.cli("new", "baseline_2k", expect=None))
        one_line_disk_full(kit.cli("launch", "later", "--local", expect=None))
        assert kit.state("later") == "created"  # nothing half-written by the refused launch
        one_line_disk_full(kit.cli("record", "fill", "acc=1", expect=None))
        one_line_disk_full(kit.cli("reindex", expect=None))
        # ... and a registry SQLite cannot open for want of room is not taken for a damaged one
        assert not list((disk / "ws").glob("registry.db.unreadable-*"))
        assert not list((disk / "ws" / ".expctl" / "jobs").glob("*.env.json"))
        # A listing still lists (the registry as last indexed, read only), saying why.
        listed = kit.cli("ls", expect=0)
        assert "fill" in listed.stdout and "later" in listed.stdout, listed.stdout
        assert "the disk is full" in listed.stderr and "disk I/O error" not in listed.stderr
    finally:
        kit.cleanup()
