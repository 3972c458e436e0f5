"""GNU screen sessions.

screen allows duplicate names and matches `-S name` by prefix, so a session is always
addressed as `PID.name`. Started with `-D -m`, screen does not fork: the process we start is
the session's server and its pid is the PID part.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from expctl.launchers.base import Started, base_session_name, first_free, require_tool

SCROLLBACK_LINES = "5000"
_LISTED = re.compile(r"^\s+(\d+)\.(\S+)\s", re.MULTILINE)


def _sessions() -> list[tuple[str, str]]:
    """(pid, name) of every screen session of this user."""
    result = subprocess.run(["screen", "-ls"], capture_output=True, text=True, check=False)
    return _LISTED.findall(result.stdout)


class ScreenLauncher:
    """Runs the supervisor as the only window of a detached screen session."""

    name = "screen"
    handle = "session"
    attachable = True

    def check_available(self) -> None:
        require_tool("screen", "--screen")

    def session_name(self, run_id: str) -> str:
        names = {name for _pid, name in _sessions()}
        return first_free(base_session_name(run_id), names.__contains__)

    def start(self, supervisor_argv: list[str], run_dir: Path, name: str | None) -> Started:
        assert name is not None
        proc = subprocess.Popen(
            ["screen", "-D", "-m", "-S", name, "-h", SCROLLBACK_LINES, *supervisor_argv],
            cwd=run_dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )
        return Started(f"{proc.pid}.{name}", lambda: proc.poll() is not None)

    def session_alive(self, session: str) -> bool:
        return any(f"{pid}.{name}" == session for pid, name in _sessions())

    def attach_argv(self, session: str) -> list[str]:
        # -x also works when a dropped SSH connection left the session marked attached.
        return ["screen", "-x", session]


LAUNCHER = ScreenLauncher()
