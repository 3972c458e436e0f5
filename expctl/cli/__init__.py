"""expctl's command line. `main` maps ExpctlError to one line on stderr and its exit code."""

from __future__ import annotations

import os
import sys

from expctl.cli import board, git_cmds, jobs, phases, results, runs  # noqa: F401 - registers commands
from expctl.cli.app import app


def main() -> None:
    from expctl.errors import ExitCode, ExpctlError

    try:
        app()
    except ExpctlError as exc:
        from expctl import console

        console.error(exc.message, exc.hint)
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        from expctl import console

        console.error("interrupted")
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as exc:  # a bug: one line, the traceback on request
        if os.environ.get("EXPCTL_DEBUG"):
            raise
        from expctl import console

        console.error(f"internal error: {type(exc).__name__}: {exc}",
                      hint="set EXPCTL_DEBUG=1 to see the traceback, and please report it")
        sys.exit(int(ExitCode.ERROR))
