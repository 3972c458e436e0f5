"""On a full disk `ls` and `leaderboard` still list the runs, from the registry as last
indexed, read only, with one warning; once there is room again they index as before.

The disk is a real 3 MB tmpfs filled to the last byte: needs root and a kernel that lets this
container mount one; skipped with the reason if not."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from helpers import small_disk
from standins.kit import cli

from expctl.phases.new import create_run
from expctl.registry import index_runs
from expctl.runs import write_results
from expctl.workspace import Workspace, init_workspace

RECIPE = 'description: t\ncommand: "true"\nsteps_param: steps\nparams: {steps: 5}\n' \
         "metrics: {primary: map}\n"
pytestmark = pytest.mark.sqlite_only  # the SQLite file and its log on a full disk
WARNING = "the disk is full: runs are listed as last indexed"


@pytest.fixture()
def disk(tmp_path: Path):
    yield from small_disk(tmp_path, "3m")


def fill(disk: Path) -> Path:
    """Write zeros until the disk has no byte left; the file to delete to make room."""
    path = disk / "fill.bin"
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass
    st = os.statvfs(disk)
    assert st.f_bavail * st.f_frsize == 0
    return path


def two_runs(disk: Path) -> Path:
    """A workspace with runs a and b; b is indexed while another connection holds the
    registry open, so its row is still in the write-ahead log (registry.db-wal)."""
    root = disk / "ws"
    root.mkdir()
    init_workspace(root)
    (root / "recipes" / "base.yaml").write_text(RECIPE)
    ws = Workspace(root)
    for run_id, value in (("a", 0.3), ("b", 0.4)):
        write_results(create_run(ws, run_id, "base"), {"map": value})
    index_runs(ws, ["a"])
    return root


def listed_ids(done) -> list[str]:
    assert done.returncode == 0, done.stderr
    return [row["id"] for row in json.loads(done.stdout)["runs"]]


def test_ls_and_leaderboard_list_from_the_registry_on_a_full_disk(disk: Path):
    root = two_runs(disk)
    log = Path(f"{root}/registry.db-wal")
    held = sqlite3.connect(root / "registry.db")  # another process has the registry open
    try:
        held.execute("SELECT count(*) FROM runs").fetchall()
        index_runs(Workspace(root), ["b"])
        assert log.stat().st_size > 0  # b's row is in the log
        filler = fill(disk)
        shown = cli(root, "ls", "--format", "json", check=False)
        assert listed_ids(shown) == ["b", "a"] and WARNING in shown.stderr
    finally:
        held.close()
    filler.unlink()
    cli(root, "ls")  # the last connection to close checkpoints the log away
    assert not log.exists()

    filler = fill(disk)  # now opening the registry as usual would have to create the log
    shown = cli(root, "ls", "--format", "json", check=False)
    assert listed_ids(shown) == ["b", "a"] and WARNING in shown.stderr
    assert shown.stderr.count("\n") == 1 and "error" not in shown.stderr
    board = cli(root, "leaderboard", check=False)
    assert board.returncode == 0 and "0.4000" in board.stdout and WARNING in board.stderr
    # A command that must write still says the disk is full, in one line.
    refused = cli(root, "record", "a", "map=0.5", "--while-training", check=False)
    assert refused.returncode == 1 and "disk is full" in refused.stderr

    filler.unlink()  # room again: listed and indexed as usual, no warning
    write_results(create_run(Workspace(root), "c", "base"), {"map": 0.5})  # not indexed
    again = cli(root, "ls", "--format", "json")
    assert listed_ids(again) == ["c", "b", "a"] and WARNING not in again.stderr
