"""`expctl rm` and `expctl archive`: confirmation, --dry-run, never another run's files, never a
running run, never through a link, and a registry that agrees with the folders afterwards."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from conftest import tree_state
from standins.kit import PY, child_env, cli, make_workspace

from expctl.phases.new import create_run  # noqa: E402
from expctl.registry import index_runs  # noqa: E402
from expctl.runs import write_results  # noqa: E402
from expctl.workspace import Workspace  # noqa: E402

RECIPE = f"""\
description: rm test
command: ["{PY}", "-c", "import time; time.sleep(60)"]
params: {{train: {{lr: 0.1}}}}
launch: {{launcher: local}}
metrics: {{primary: map}}
"""


def two_runs(tmp_path: Path) -> tuple[Path, Workspace]:
    """Runs a and b sharing nothing, each with metrics and a checkpoint."""
    root = make_workspace(tmp_path, {"base": RECIPE})
    ws = Workspace(root)
    for run_id, value in (("a", 0.3), ("b", 0.4)):
        run = create_run(ws, run_id, "base")
        write_results(run, {"map": value})
        (run.path / "checkpoints" / "final_model.ckpt").write_bytes(b"w" * 1000)
    index_runs(ws, ["a", "b"])
    return root, ws


def ls_ids(root: Path, *extra: str) -> list[str]:
    return [r["id"] for r in json.loads(cli(root, "ls", "-f", "json", *extra).stdout)["runs"]]


def test_rm_of_one_of_two_runs_leaves_the_other_intact_and_ls_consistent(tmp_path: Path):
    root, _ = two_runs(tmp_path)
    other = tree_state(root / "runs" / "b")
    done = cli(root, "rm", "a", "--yes")
    assert "removed a" in done.stderr
    assert not (root / "runs" / "a").exists()
    assert tree_state(root / "runs" / "b") == other
    assert ls_ids(root) == ["b"]
    board = json.loads(cli(root, "leaderboard", "-f", "json").stdout)["runs"]
    assert [r["id"] for r in board] == ["b"]
    cli(root, "reindex")
    assert ls_ids(root) == ["b"]
    assert sorted(p.name for p in (root / "runs").iterdir()) == ["b"]  # no trash left behind
    gone = cli(root, "show", "a", check=False)
    assert gone.returncode == 3 and "No run `a`" in gone.stderr


def test_without_a_terminal_rm_needs_yes_and_dry_run_changes_nothing(tmp_path: Path):
    root, _ = two_runs(tmp_path)
    before = tree_state(root / "runs")
    refused = cli(root, "rm", "a", "b", check=False)
    assert refused.returncode == 2
    assert "without confirmation: stdin is not a terminal" in refused.stderr
    assert "--yes" in refused.stderr and "Traceback" not in refused.stderr
    dry = cli(root, "rm", "a", "b", "--dry-run")
    lines = dry.stdout.splitlines()
    assert lines[0].split() == ["run", "files", "size", "path"]
    assert [line.split()[0] for line in lines[1:]] == ["a", "b"]
    assert "would remove 2 runs" in dry.stderr
    assert tree_state(root / "runs") == before
    assert ls_ids(root) == ["b", "a"]
    missing = cli(root, "rm", "a", "nope", "--yes", check=False)  # one bad id: nothing happens
    assert missing.returncode == 3 and "No run `nope`" in missing.stderr
    assert tree_state(root / "runs") == before


def in_pty(root: Path, answer: str, *args: str) -> subprocess.CompletedProcess:
    """expctl with a terminal on stdin, answering the prompt with `answer`."""
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([PY, "-m", "expctl", "-C", str(root), *args], stdin=follower,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=child_env())
        os.write(leader, answer.encode() + b"\n")
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def test_on_a_terminal_rm_asks_and_only_yes_removes(tmp_path: Path):
    root, _ = two_runs(tmp_path)
    declined = in_pty(root, "n", "rm", "a")
    assert declined.returncode == 1
    assert "Remove 1 run" in declined.stderr and "[y/N]" in declined.stderr
    assert "Not confirmed" in declined.stderr
    assert (root / "runs" / "a" / "run.yaml").is_file()
    accepted = in_pty(root, "y", "rm", "a")
    assert accepted.returncode == 0, accepted.stderr
    assert not (root / "runs" / "a").exists() and ls_ids(root) == ["b"]


def test_a_running_run_is_refused(tmp_path: Path):
    root, _ = two_runs(tmp_path)
    cli(root, "new", "busy", "--recipe", "base")
    cli(root, "launch", "busy", "--local")
    try:
        for command in ("rm", "archive"):
            refused = cli(root, command, "busy", "--yes", check=False)
            assert refused.returncode == 4, refused.stderr
            assert "`busy`: it is running" in refused.stderr
            assert "expctl stop busy" in refused.stderr
        assert (root / "runs" / "busy" / "run.yaml").is_file()
        assert "busy" in ls_ids(root)
    finally:
        cli(root, "stop", "busy", "--force", check=False)


def test_links_are_never_followed(tmp_path: Path):
    root, ws = two_runs(tmp_path)
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "weights.ckpt").write_bytes(b"keep me")
    # A link inside a run folder to files elsewhere: the link goes, its target stays.
    os.symlink(outside, root / "runs" / "a" / "checkpoints" / "shared")
    os.symlink(outside / "weights.ckpt", root / "runs" / "a" / "linked.ckpt")
    # A run "folder" that is itself a link to another run's folder: refused.
    os.symlink(root / "runs" / "b", root / "runs" / "c")
    refused = cli(root, "rm", "c", "--yes", check=False)
    assert refused.returncode == 4 and "symbolic link" in refused.stderr
    assert (root / "runs" / "b" / "run.yaml").is_file() and (root / "runs" / "c").is_symlink()
    cli(root, "rm", "a", "--yes")
    assert not (root / "runs" / "a").exists()
    assert (outside / "weights.ckpt").read_bytes() == b"keep me"


def test_two_rm_at_once_of_different_runs(tmp_path: Path):
    root, ws = two_runs(tmp_path)
    create_run(ws, "c", "base")
    index_runs(ws, ["c"])
    procs = [subprocess.Popen([PY, "-m", "expctl", "-C", str(root), "rm", run_id, "--yes"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
             for run_id in ("a", "c")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert ls_ids(root) == ["b"]
    assert sorted(p.name for p in (root / "runs").iterdir()) == ["b"]


def test_archive_hides_a_run_until_it_is_restored(tmp_path: Path):
    root, _ = two_runs(tmp_path)
    cli(root, "tag", "a", "paper")
    a_files = tree_state(root / "runs" / "a")
    cli(root, "archive", "a", "--yes")
    assert tree_state(root / "runs" / ".archive" / "a") == a_files  # moved whole
    assert ls_ids(root) == ["b"]
    cli(root, "reindex")  # the index of runs/ never resurrects it
    assert ls_ids(root) == ["b"]
    archived = json.loads(cli(root, "ls", "--archived", "-f", "json").stdout)["runs"]
    assert [(r["id"], r["primary_value"], r["tags"]) for r in archived] == [("a", 0.3, ["paper"])]
    hidden = cli(root, "show", "a", check=False)
    assert hidden.returncode == 3 and "expctl archive --restore a" in hidden.stderr
    again = cli(root, "new", "a", "--recipe", "base")  # the id is free again ...
    assert again.returncode == 0
    clash = cli(root, "archive", "--restore", "a", "--yes", check=False)  # ... so restoring waits
    assert clash.returncode == 4 and "exists again" in clash.stderr
    cli(root, "rm", "a", "--yes")
    cli(root, "archive", "--restore", "a", "--yes")
    assert tree_state(root / "runs" / "a") == a_files
    assert sorted(ls_ids(root)) == ["a", "b"] and ls_ids(root, "--tag", "paper") == ["a"]
    assert json.loads(cli(root, "ls", "--archived", "-f", "json").stdout)["runs"] == []


def test_rm_clears_the_current_run(tmp_path: Path):
    root, _ = two_runs(tmp_path)
    cli(root, "new", "fresh", "--recipe", "base")  # the current run now
    cli(root, "rm", "fresh", "--yes")
    status = cli(root, "show", check=False)
    assert status.returncode == 2 and "no current run" in status.stderr
