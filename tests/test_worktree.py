"""The private working tree itself: what `new` checks out, where, what it links, and that the
workspace's git never sees it (also in a workspace below the repository's root)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import git

from expctl.errors import BadInputError, ExpctlError
from expctl.metrics.context import run_recipe
from expctl.phases.new import create_run
from expctl.recipes import load_recipe
from expctl.workspace import Workspace, init_workspace
from expctl.worktree import job_workdir, read_marker, remove_tree, tree_path

RECIPE = """\
command: ["true"]
launch: {workdir: work, links: [data, models/pretrained]}
"""


def test_new_checks_out_the_recorded_code_and_links_the_workspace(workspace: Path):
    root = workspace
    (root / "recipes" / "t.yaml").write_text(RECIPE)
    (root / "models" / "pretrained").mkdir(parents=True)
    (root / "models" / "pretrained" / "README").write_text("tracked placeholder\n")
    (root / "models" / "pretrained" / "weights.bin").write_bytes(b"\0weights")
    git(root, "add", "recipes", "models/pretrained/README")
    git(root, "commit", "-qm", "recipe")
    (root / "train.py").write_text("print('edited, not committed')\n")
    (root / "notes.txt").write_text("untracked\n")
    ws = Workspace(root)
    run = create_run(ws, "t1", "t")
    tree = tree_path(ws, "t1")
    assert run.info.isolation.mode == "tree"
    assert (tree / "train.py").read_text() == "print('edited, not committed')\n"
    assert (tree / "notes.txt").read_text() == "untracked\n"
    # The commit's copy of a linked path gives way to the workspace's; a missing one is made.
    assert (tree / "models" / "pretrained").resolve() == (root / "models/pretrained").resolve()
    assert (tree / "models" / "pretrained" / "weights.bin").read_bytes() == b"\0weights"
    assert (tree / "data").is_symlink() and (root / "data").is_dir()
    assert job_workdir(ws, run, run_recipe(run), "train") == (tree / "work").resolve()
    # The workspace's git sees nothing of it, even without init's `.expctl/` entry.
    ignore = root / ".gitignore"
    ignore.write_text(ignore.read_text().replace(".expctl/\n", ""))
    status = git(root, "status", "--porcelain", "--untracked-files=all")
    assert ".expctl/trees" not in status
    assert remove_tree(ws, "t1") and not tree.exists() and read_marker(ws, "t1") is None
    assert (root / "models" / "pretrained" / "weights.bin").exists()  # the link's target stays


def test_a_workspace_below_the_repository_root(tmp_path: Path):
    repo = tmp_path / "repo"
    (repo / "exp").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "lib.py").write_text("x = 1\n")
    ws, _ = init_workspace(repo / "exp")
    (ws.recipes_dir / "t.yaml").write_text('command: ["true"]\nlaunch: {workdir: work}\n')
    (ws.root / "work").mkdir()
    (ws.root / "work" / "run.py").write_text("pass\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "all")
    run = create_run(ws, "t1", "t")
    tree = tree_path(ws, "t1")
    assert (tree / "lib.py").exists()  # the whole repository is checked out
    assert job_workdir(ws, run, run_recipe(run), "train") == (tree / "exp" / "work").resolve()
    assert ".expctl" not in git(repo, "status", "--porcelain", "--untracked-files=all")


def test_recipe_opts_out_and_links_must_stay_inside(workspace: Path):
    ws = Workspace(workspace)
    (workspace / "recipes" / "n.yaml").write_text('command: ["true"]\nisolation: none\n')
    run = create_run(ws, "n1", "n")
    assert run.info.isolation.mode == "none" and "isolation: none" in run.info.isolation.reason
    assert not tree_path(ws, "n1").exists()
    for bad in ("/data", "../data", "."):
        (workspace / "recipes" / "b.yaml").write_text(
            f'command: ["true"]\nlaunch: {{links: ["{bad}"]}}\n')
        with pytest.raises(BadInputError):
            load_recipe(ws, "b")


def test_a_failed_checkout_leaves_neither_run_nor_tree(workspace: Path):
    ws = Workspace(workspace)
    # A link below a file cannot be made: the tree is half done when it fails.
    (workspace / "recipes" / "l.yaml").write_text(
        'command: ["true"]\nlaunch: {links: [train.py/data]}\n')
    with pytest.raises(ExpctlError, match="Cannot make the private working tree of run `l1`"):
        create_run(ws, "l1", "l")
    assert not (ws.runs_dir / "l1").exists() and not tree_path(ws, "l1").exists()
    assert read_marker(ws, "l1") is None
    assert "l1" not in git(workspace, "worktree", "list")
