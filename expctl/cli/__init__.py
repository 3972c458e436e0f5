"""expctl's command line. `main` maps ExpctlError to one line on stderr and its exit code."""
# isort: skip_file

from __future__ import annotations

import os
import sys

# Importing the command modules registers their commands, in the order `--help` lists them:
# the experiment cycle's.
from expctl.cli import runs  # noqa: F401
from expctl.cli import jobs  # noqa: F401
from expctl.cli import phases  # noqa: F401
from expctl.cli import results  # noqa: F401
from expctl.cli import tag  # noqa: F401
from expctl.cli import note  # noqa: F401
from expctl.cli import board  # noqa: F401
from expctl.cli import git_cmds  # noqa: F401
from expctl.cli import report  # noqa: F401
from expctl.cli import plot  # noqa: F401
from expctl.cli import tensorboard  # noqa: F401
from expctl.cli import rm  # noqa: F401
from expctl.cli import archive  # noqa: F401
from expctl.cli import gc  # noqa: F401
from expctl.cli import sweep  # noqa: F401
from expctl.cli import queue  # noqa: F401
from expctl.cli.app import app


def _terminate(signum, frame) -> None:
    from expctl.errors import Terminated

    raise Terminated()


def main() -> None:
    """The console script: SIGTERM ends a command like Ctrl-C does, then `run`."""
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(run(sys.argv[1:]))


def run(argv: list[str]) -> int:
    """Run one command line and return its exit code: an ExpctlError is one line on stderr
    and its exit code, a bug one line unless EXPCTL_DEBUG is set. (Tests call this in-process.)"""
    import signal

    from expctl.errors import ExitCode, ExpctlError, Terminated

    try:
        app(args=argv, prog_name="expctl")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except ExpctlError as exc:
        from expctl import console
        from expctl.diskspace import disk_full_error, is_disk_full

        if exc.__context__ is not None and is_disk_full(exc.__context__):
            exc = disk_full_error(exc.__context__)  # the cause, said the same way everywhere
        console.error(exc.message, exc.hint)
        return int(exc.exit_code)
    except Terminated:
        from expctl import console

        console.error("terminated")
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        from expctl import console

        console.error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # a bug: one line, the traceback on request
        from expctl import console
        from expctl.diskspace import disk_full_error, is_disk_full

        if is_disk_full(exc):  # not a bug: say so in one line, whichever command it was
            full = disk_full_error(exc)
            console.error(full.message, full.hint)
            return int(ExitCode.ERROR)
        if os.environ.get("EXPCTL_DEBUG"):
            raise
        console.error(f"internal error: {type(exc).__name__}: {exc}",
                      hint="set EXPCTL_DEBUG=1 to see the traceback, and please report it")
        return int(ExitCode.ERROR)
    return 0
