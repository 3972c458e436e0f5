"""Workspace discovery and the run folder made by create_run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from expctl.errors import BadInputError, ConflictError, NotFoundError
from expctl.phases.new import create_run
from expctl.rundir import SUBDIRS
from expctl.runs import load_run, resolve_run_id
from expctl.workspace import find_workspace, init_workspace

RECIPE = (
    "description: base\ncommand: python train.py {overrides}\nsteps_param: max_steps\n"
    "params: {max_steps: 10, lr: 0.1}\ncriteria: {acc: '>= 0.5'}\n"
)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("EXPCTL_WORKSPACE", raising=False)
    for key, value in {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
                       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}.items():
        monkeypatch.setenv(key, value)
    git(tmp_path, "init", "-q", "-b", "main")
    ws, _ = init_workspace(tmp_path)
    (tmp_path / "recipes" / "base.yaml").write_text(RECIPE)
    (tmp_path / "train.py").write_text("print('v1')\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "init")
    return ws


def test_init_is_idempotent_and_ignores_db_and_checkpoints(tmp_path):
    _, created = init_workspace(tmp_path)
    assert "expctl.yaml" in created
    _, again = init_workspace(tmp_path)
    assert again == []
    ignore = (tmp_path / ".gitignore").read_text().splitlines()
    assert "registry.db" in ignore and "*.ckpt" in ignore and "runs/" not in ignore


def test_find_workspace_walks_up_and_honours_overrides(repo, tmp_path, monkeypatch):
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_workspace().root == tmp_path.resolve()
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(NotFoundError, match="not an expctl workspace"):
        find_workspace(other)
    monkeypatch.setenv("EXPCTL_WORKSPACE", str(other))
    with pytest.raises(NotFoundError):
        find_workspace()


def test_create_run_writes_the_folder_contract(repo):
    (repo.root / "train.py").write_text("print('v2')\n")  # unstaged change
    (repo.root / "notes.txt").write_text("new\n")  # untracked
    run = create_run(repo, "base_2k", overrides=["lr=0.5"], hypothesis="more steps help")
    path = repo.runs_dir / "base_2k"
    for sub in SUBDIRS:
        assert (path / sub).is_dir()
    config = yaml.safe_load((path / "config.yaml").read_text())
    assert config["params"] == {"max_steps": 2000, "lr": 0.5}
    info = load_run(repo, "base_2k").info
    assert info.recipe == "base" and info.steps == 2000
    assert info.git.available and info.git.dirty and info.git.branch == "main"
    assert info.git.sha == git(repo.root, "rev-parse", "HEAD").strip()
    assert "+print('v2')" in (path / "git.patch").read_text()
    assert (path / "untracked.txt").read_text().split() == ["notes.txt"]
    assert "python:" in (path / "environment.txt").read_text()
    hypothesis = (path / "experiment_hypothesis.md").read_text()
    assert "more steps help" in hypothesis and "acc >= 0.5" in hypothesis
    from expctl.state import run_state

    assert run_state(run) == "created"


def test_create_run_refuses_duplicates_and_leaves_no_temp(repo):
    create_run(repo, "base")
    with pytest.raises(ConflictError):
        create_run(repo, "base")
    with pytest.raises(BadInputError):
        create_run(repo, "base_1k", overrides=["nope=1"])
    assert sorted(p.name for p in repo.runs_dir.iterdir()) == ["base"]


def test_create_run_outside_git(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    ws, _ = init_workspace(tmp_path)
    (tmp_path / "recipes" / "base.yaml").write_text(RECIPE)
    run = create_run(ws, "base")
    assert run.info.git.available is False
    assert run.info.git.reason == "not a git repository"
    assert "no git" in (run.path / "experiment_hypothesis.md").read_text()


def test_current_run(repo):
    with pytest.raises(BadInputError, match="no current run"):
        resolve_run_id(repo, None)
    repo.set_current_run("base")
    assert resolve_run_id(repo, None) == "base"
    assert resolve_run_id(repo, "x") == "x"


def test_edits_inside_runs_do_not_make_the_next_run_dirty(repo):
    first = create_run(repo, "base")
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-qm", "run folder")
    (first.path / "notes.md").write_text("edited after the commit\n")
    (first.path / "config.yaml").write_text("changed: true\n")
    second = create_run(repo, "base_1k")
    assert second.info.git.dirty is False
    assert not (second.path / "git.patch").exists()


def test_init_honours_dash_c(tmp_path):
    import os
    import sys

    target = tmp_path / "elsewhere"
    target.mkdir()
    exe = Path(sys.executable).with_name("expctl")
    env = {k: v for k, v in os.environ.items() if k != "EXPCTL_WORKSPACE"}
    subprocess.run([str(exe), "-C", str(target), "init"], cwd=tmp_path, check=True, env=env,
                   capture_output=True)
    assert (target / "expctl.yaml").is_file()
    assert not (tmp_path / "expctl.yaml").exists()


def test_snapshot_keeps_non_utf8_changes_and_names_exactly(repo):
    latin = repo.root / "latin.txt"
    latin.write_bytes(b"caf\xe9\n")
    git(repo.root, "add", "latin.txt")
    git(repo.root, "commit", "-qm", "latin-1 file")
    latin.write_bytes(b"caf\xe9 au lait\n")
    (repo.root / os.fsdecode(b"data_\xe9.csv")).write_bytes(b"x\n")
    run = create_run(repo, "base")
    patch = (run.path / "git.patch").read_bytes()
    assert b"+caf\xe9 au lait" in patch
    git(repo.root, "checkout", "latin.txt")
    subprocess.run(["git", "apply", str(run.path / "git.patch")], cwd=repo.root, check=True)
    assert latin.read_bytes() == b"caf\xe9 au lait\n"  # the patch restores the change exactly
    assert (run.path / "untracked.txt").read_text().split() == ["data_\\xe9.csv"]


def test_concurrent_records_of_one_run_all_land(repo):
    import json
    import sys

    create_run(repo, "base")
    exe = Path(sys.executable).with_name("expctl")
    procs = [subprocess.Popen([str(exe), "record", "base", f"k{i}={i}"], cwd=repo.root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for i in range(8)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    metrics = json.loads((repo.runs_dir / "base" / "experiment_results.json").read_text())
    assert metrics["metrics"] == {f"k{i}": float(i) for i in range(8)}


def test_a_copied_run_folder_is_refused_by_name(repo):
    import shutil

    from expctl.runs import load_run

    create_run(repo, "base")
    shutil.copytree(repo.runs_dir / "base", repo.runs_dir / "copy")
    with pytest.raises(BadInputError, match="says id `base`, not `copy`"):
        load_run(repo, "copy")


def test_table_cells_escape_control_characters(capsys):
    from expctl import console

    console.table(["id", "note"], [["r1", "x\x1b[31mRED\nfake_row  base"]])
    out = capsys.readouterr().out
    assert out.splitlines()[1] == "r1  x\\x1b[31mRED\\nfake_row  base"
    assert "\x1b" not in out
