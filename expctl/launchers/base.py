"""What every launcher shares: the protocol, the started-session handle, session names and the
missing-tool error."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from expctl.errors import MissingToolError

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
MAX_TRIES = 50  # session-name suffixes tried before giving up


@dataclass
class Started:
    """A supervisor that was started: its session target, and a check that it is gone."""

    session: str | None
    gone: Callable[[], bool]
    queued: bool = False  # a batch system (Slurm) starts it later: do not wait for the job


class Launcher(Protocol):
    """One way of running the supervisor detached from the launching terminal."""

    name: str
    handle: str  # what `session` names for it: "session" (screen, tmux), "job" (Slurm), "process"
    attachable: bool  # `expctl attach` can hand the terminal to it
    # Optional `exports_environment = True`: the started process gets the caller's
    # environment from the launcher itself (Slurm), so none is saved in a file for it.

    def check_available(self) -> None:
        """Raise MissingToolError (one line, how to install) when the tool is missing."""

    def session_name(self, run_id: str) -> str | None:
        """A free, human-readable session name for a run (None when there are no sessions)."""

    def start(self, supervisor_argv: list[str], run_dir: Path, name: str | None) -> Started:
        """Start the supervisor detached, in session `name` (None for local)."""

    def session_alive(self, session: str) -> bool:
        """Whether the session still exists."""

    def attach_argv(self, session: str) -> list[str]:
        """The argv that hands the terminal to the session."""


def require_tool(tool: str, flag: str) -> str:
    """The path of `tool`, or a one-line MissingToolError saying how to install it."""
    path = shutil.which(tool)
    if path is None:
        others = ", ".join(f for f in ("--screen", "--tmux", "--local") if f != flag)
        raise MissingToolError(
            f"{tool} is not installed: install it with `sudo apt-get install {tool}` "
            f"(macOS: `brew install {tool}`), or launch with {others}."
        )
    return path


def base_session_name(run_id: str) -> str:
    """`expctl-<run id>`, with `.` and `:` (which tmux rewrites and screen parses) as `_`."""
    return "expctl-" + _UNSAFE.sub("_", run_id)


def first_free(base: str, taken: Callable[[str], bool]) -> str:
    """`base`, or `base-2`, `base-3`, ... whichever is not taken."""
    for n in range(1, MAX_TRIES + 1):
        name = base if n == 1 else f"{base}-{n}"
        if not taken(name):
            return name
    raise MissingToolError(f"No free session name like `{base}` after {MAX_TRIES} tries.")
