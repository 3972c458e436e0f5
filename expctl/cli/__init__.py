"""expctl's command line: the commands (listed in expctl.cli.catalog, each built when the
command line names it), and `run`, which maps an ExpctlError to one line on stderr and its
exit code."""

from __future__ import annotations

import os
import sys

from expctl.cli.catalog import COMMANDS, command_module, top_level_help

__all__ = ["COMMANDS", "command_module", "load_command", "main", "run"]


def __getattr__(name: str):
    """`load_command` (expctl.cli.app) is imported when first asked for: importing expctl.cli,
    as the console script does, must not import typer (see `run`). The typer app itself is
    expctl.cli.app.app."""
    if name == "load_command":
        from expctl.cli.app import load_command

        return load_command
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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

    if argv in (["--help"], ["-h"]):  # the catalog's help: typer not even imported
        text = top_level_help()
        if text is not None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return 0
    from expctl.cli.app import APPLICATION, app
    from expctl.errors import ExitCode, ExpctlError, Terminated

    APPLICATION.workspace = None  # each command line starts from no global options
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
