"""The caller's environment for a detached process, in a private file read once at its start.

A tmux server keeps the environment of whoever started it, so a process started in a new
tmux session would otherwise get that, not the caller's. `save_environment` writes the
caller's variables (0600, in the git-ignored state folder: they may hold secrets); the
supervisor, or `python -m expctl.launchers.envfile FILE ARGV...` for other detached commands
(a detached cycle or validation), reads the file, deletes it at once and runs with it.
Slurm needs no file: sbatch carries the submitter's environment (`--export=ALL`).

Standard library only: the supervisor imports this module.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from expctl.launchers.jobfiles import SESSION_VARIABLES
from expctl.rundir import read_json_file

ENV_SUFFIX = ".env.json"


def save_environment(jobs_dir: Path, name: str, environ: dict[str, str] | None = None) -> Path:
    """Write this process's environment (or `environ`), less its session's variables, to a
    new private file `jobs_dir/<name>-<random>.env.json`; returns its path."""
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if k not in SESSION_VARIABLES}
    jobs_dir.mkdir(parents=True, exist_ok=True)
    path = jobs_dir / f"{name}-{secrets.token_hex(4)}{ENV_SUFFIX}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(env, f)
    except BaseException:
        path.unlink(missing_ok=True)  # half a file must not stay behind (a full disk)
        raise
    return path


def take_environment(path: Path, session: Mapping[str, str]) -> dict[str, str] | None:
    """The saved environment, with the running session's own variables (STY, TMUX, TERM);
    the file is deleted once read. None when it is missing or unreadable."""
    saved = read_json_file(path)
    try:
        os.unlink(path)
    except OSError:
        pass
    if saved is None:
        return None
    env = {str(k): str(v) for k, v in saved.items()}
    env.update((k, session[k]) for k in SESSION_VARIABLES if k in session)
    return env


def wrap(argv: list[str], env_file: Path) -> list[str]:
    """`argv` run with the environment saved in `env_file` (see the module docstring)."""
    return [sys.executable, "-m", "expctl.launchers.envfile", str(env_file), *argv]


def with_caller_environment(launcher: object, argv: list[str], jobs_dir: Path,
                            name: str) -> tuple[list[str], Path | None]:
    """`argv` for `launcher` so that it runs with this process's environment, and the file
    that carries it (None where the launcher passes the environment on itself)."""
    if getattr(launcher, "exports_environment", False):
        return argv, None
    path = save_environment(jobs_dir, name)
    return wrap(argv, path), path


def start_with_caller_environment(launcher: Any, argv: list[str], run_dir: Path,
                                  session: str | None, jobs_dir: Path, name: str) -> Any:
    """Start `argv` detached with `launcher` and this process's environment (see
    with_caller_environment); the environment file goes if nothing started to read it."""
    argv, env_file = with_caller_environment(launcher, argv, jobs_dir, name)
    try:
        return launcher.start(argv, run_dir, session)
    except BaseException:
        if env_file is not None:
            env_file.unlink(missing_ok=True)
        raise


def main(args: list[str] | None = None) -> int:
    """`python -m expctl.launchers.envfile ENV_FILE ARGV...`: exec ARGV with the saved
    environment (the session's own if the file is gone, with a warning)."""
    args = sys.argv[1:] if args is None else args
    if len(args) < 2:
        print("usage: python -m expctl.launchers.envfile ENV_FILE ARGV...", file=sys.stderr)
        return 2
    env = take_environment(Path(args[0]), os.environ)
    if env is None:
        print(f"expctl: environment file {args[0]} is missing; using the session's",
              file=sys.stderr)
        env = dict(os.environ)
    try:
        os.execvpe(args[1], args[1:], env)
    except OSError as exc:
        print(f"expctl: cannot run {args[1]}: {exc.strerror}", file=sys.stderr)
        return 127
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
