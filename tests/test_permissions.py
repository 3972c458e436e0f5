"""Run folders follow the umask (0755 folders, 0644 files under 022), so a team on shared
storage can read each other's runs; the environment handed to a job stays private (0600)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
from standins.kit import cli, hydra_recipe, make_workspace  # noqa: E402

from expctl.files import write_text_atomic  # noqa: E402
from expctl.launchers.envfile import save_environment  # noqa: E402


@pytest.fixture()
def umask_022():
    old = os.umask(0o022)  # the expctl subprocesses inherit it
    yield
    os.umask(old)


@pytest.fixture()
def shared_dir():
    """A folder outside pytest's private (0700) temporary tree, so another user can reach it."""
    path = Path(tempfile.mkdtemp(prefix="expctl-perm-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def modes(folder: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def other_user() -> list[str] | None:
    """argv prefix that runs a command as `nobody`, when this test may do so (root)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return None
    try:
        import pwd

        pwd.getpwnam("nobody")
    except KeyError:
        return None
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def test_a_cycled_run_folder_is_readable_by_the_team(umask_022, shared_dir: Path):
    root = make_workspace(shared_dir, {"hydra": hydra_recipe(shared_dir / "starts.txt")})
    cli(root, "cycle", "hydra_6", "--local")
    run = root / "runs" / "hydra_6"
    found = modes(run)
    folders = {k for k in found if (run / k).is_dir()}
    assert len(found) > 15 and {"checkpoints", "training_logs", "validation_results"} <= folders
    wrong = {k: oct(m) for k, m in found.items()
             if m != (0o755 if k in folders or k == "." else 0o644)}
    assert wrong == {}
    as_nobody = other_user()
    if as_nobody is not None:  # and actually read as another user
        for name in ("config.yaml", "experiment_results.json", "training_logs/stdout.log",
                     "validation_results/validation_output.log"):
            read = subprocess.run([*as_nobody, "cat", str(run / name)], capture_output=True)
            assert read.returncode == 0, (name, read.stderr)
            assert read.stdout == (run / name).read_bytes()
        listing = subprocess.run([*as_nobody, "ls", str(run / "checkpoints")],
                                 capture_output=True, text=True)
        assert "final_model.ckpt" in listing.stdout


def test_atomic_writes_follow_the_umask(tmp_path: Path):
    old = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        write_text_atomic(tmp_path / "b.txt", "x", private=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o600


def test_the_jobs_environment_file_stays_private(umask_022, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "secret")
    path = save_environment(tmp_path / "jobs", "run-1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "secret" in path.read_text()
    old = os.umask(0)
    try:
        fresh = save_environment(tmp_path / "jobs", "run-2")
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_launch_writes_the_environment_private_and_the_supervisor_removes_it(
        umask_022, tmp_path: Path):
    (tmp_path / "ws").mkdir()
    root = make_workspace(tmp_path / "ws", {"hydra": hydra_recipe(tmp_path / "starts.txt")})
    cli(root, "new", "hydra_6")
    cli(root, "launch", "hydra_6", "--local")
    cli(root, "wait", "hydra_6", "--timeout", "60")
    import json

    spec = json.loads((root / "runs" / "hydra_6" / "launch.json").read_text())
    env_file = Path(spec["env_file"])
    assert env_file.parent == root / ".expctl" / "jobs"  # git-ignored, outside the run folder
    assert not env_file.exists()  # read by the supervisor, then deleted
    assert stat.S_IMODE((root / "runs" / "hydra_6" / "launch.json").stat().st_mode) == 0o644
