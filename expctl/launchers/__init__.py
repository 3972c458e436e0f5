"""Launchers: how a run's supervisor is started (local process, screen, tmux).

Every launcher starts the same thing, `python -m expctl.launchers.supervisor <launch.json>`,
and receives it as an argument list: the job's command, paths and environment travel in
launch.json, never through a shell. The protocol they follow is expctl.launchers.base.Launcher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from expctl.launchers.base import Launcher

KNOWN = ("local", "screen", "tmux")  # shipped here; others (slurm) are used when installed


def get_launcher(name: str) -> Launcher:
    """The launcher called `name` (local, screen, tmux, and slurm where it is installed): an
    object following expctl.launchers.base.Launcher. Imports are here, not at the top: the
    supervisor is imported through this package and must start fast."""
    import importlib

    from expctl.errors import BadInputError

    module = None
    if name.isidentifier() and name in {*KNOWN, "slurm"}:
        try:
            module = importlib.import_module(f"expctl.launchers.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"expctl.launchers.{name}":
                raise
    if module is None or not hasattr(module, "LAUNCHER"):
        raise BadInputError(f"Launcher `{name}` is not available.",
                            hint=f"use one of {', '.join(KNOWN)}")
    return module.LAUNCHER
