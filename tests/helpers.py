"""What every test helper shares: one git identity, one environment for child processes, one
way to run git and one way to run the real `expctl` console script as a process.

conftest's fixtures, the launcher kit (tests/launchkit.py) and the phase kit
(tests/standins/kit.py) all build on these."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "expctl tests",
    "GIT_AUTHOR_EMAIL": "tests@expctl.invalid",
    "GIT_COMMITTER_NAME": "expctl tests",
    "GIT_COMMITTER_EMAIL": "tests@expctl.invalid",
}


def expctl_script() -> str:
    """The console script of the environment running the tests."""
    beside = Path(sys.executable).with_name("expctl")
    if beside.exists():
        return str(beside)
    venv = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "expctl"
    if venv.exists():
        return str(venv)
    found = shutil.which("expctl")
    if not found:
        raise RuntimeError("the expctl console script is not installed (run `make install`)")
    return found


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment for a child: no EXPCTL_* leaks, the git identity, no colours,
    a fixed width, unbuffered Python."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPCTL_")}
    env.update(GIT_IDENTITY)
    env.update({"NO_COLOR": "1", "COLUMNS": "120", "PYTHONUNBUFFERED": "1", **extra})
    return env


def git(cwd: Path, *args: str) -> str:
    """`git ARGS` in `cwd`; its stdout (a failure raises with git's message)."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env=child_env())
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def run_expctl(*args: str, cwd: Path, env: dict[str, str] | None = None,
               input: str | None = None, timeout: float = 120,
               expect: int | None = None) -> subprocess.CompletedProcess:
    """The real `expctl ARGS` as a process without a TTY; with `expect`, its exit code is
    checked and the output shown when it differs."""
    done = subprocess.run([expctl_script(), *args], cwd=cwd, env=env or child_env(),
                          input=input, stdin=None if input is not None else subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
    if expect is not None and done.returncode != expect:
        raise AssertionError(f"expctl {' '.join(args)} exited {done.returncode}, expected "
                             f"{expect}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    return done


def small_disk(tmp_path: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of `size` (e.g. "2m") at tmp_path/disk for one test, unmounted afterwards:
    the tests' full disk. Skips the test without root or where mounting is not allowed."""
    import pytest

    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)
