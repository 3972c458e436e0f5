"""Plain background processes: the supervisor detached in its own session, no terminal."""

from __future__ import annotations

import subprocess
from pathlib import Path

from expctl.errors import BadInputError
from expctl.launchers.base import Started
from expctl.rundir import SUPERVISOR_LOG


class LocalLauncher:
    """Runs the supervisor as a detached background process (survives the shell's exit)."""

    name = "local"
    handle = "process"
    attachable = False

    def check_available(self) -> None:
        """Nothing to install."""

    def session_name(self, run_id: str) -> str | None:
        return None

    def start(self, supervisor_argv: list[str], run_dir: Path, name: str | None) -> Started:
        # stderr keeps the supervisor's own failures (e.g. a broken interpreter) readable.
        with open(run_dir / SUPERVISOR_LOG, "ab") as errors:
            proc = subprocess.Popen(
                supervisor_argv, cwd=run_dir, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True,
            )
        return Started(None, lambda: proc.poll() is not None)

    def session_alive(self, session: str) -> bool:
        return False

    def attach_argv(self, session: str) -> list[str]:
        raise BadInputError(
            "This run was launched with --local: there is no session to attach to.",
            hint="follow its output with `expctl logs -F`",
        )


LAUNCHER = LocalLauncher()
