"""tmux sessions.

tmux matches `-t name` by prefix, so targets are written `=name` (exact); run.yaml keeps the
plain name. Names may not hold
`.` or `:`. A running tmux server ignores the caller's environment: the job's environment
travels in launch.json instead.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from expctl.errors import ExpctlError
from expctl.launchers.base import MAX_TRIES, Started, base_session_name, first_free, require_tool

WIDTH, HEIGHT = "200", "50"  # the detached window's size; attaching resizes it


def _gone(name: str) -> bool:
    return not _exists(name)


def _exists(name: str) -> bool:
    result = subprocess.run(["tmux", "has-session", "-t", f"={name}"], capture_output=True,
                            check=False)
    return result.returncode == 0


class TmuxLauncher:
    """Runs the supervisor as the only pane of a detached tmux session."""

    name = "tmux"
    handle = "session"
    attachable = True

    def check_available(self) -> None:
        require_tool("tmux", "--tmux")

    def session_name(self, run_id: str) -> str:
        return first_free(base_session_name(run_id), _exists)

    def start(self, supervisor_argv: list[str], run_dir: Path, name: str | None) -> Started:
        assert name is not None
        for _ in range(MAX_TRIES):
            # Several arguments after `--` are executed directly, without a shell.
            result = subprocess.run(
                ["tmux", "new-session", "-d", "-s", name, "-x", WIDTH, "-y", HEIGHT,
                 "-c", str(run_dir), "--", *supervisor_argv],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
            )
            if result.returncode == 0:
                return Started(name, functools.partial(_gone, name))
            if "duplicate session" not in result.stderr:
                raise ExpctlError(f"tmux could not start a session: {result.stderr.strip()}")
            name = first_free(name, _exists)  # another launch took the name meanwhile
        raise ExpctlError(f"tmux: no free session name like `{name}`.")

    def session_alive(self, session: str) -> bool:
        return _exists(session)

    def attach_argv(self, session: str) -> list[str]:
        if os.environ.get("TMUX"):  # already inside tmux: attaching would nest
            return ["tmux", "switch-client", "-t", f"={session}"]
        return ["tmux", "attach-session", "-t", f"={session}"]


LAUNCHER = TmuxLauncher()
