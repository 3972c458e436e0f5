"""Errors raised by expctl's phases and the exit codes the CLI maps them to.

Exit codes (documented in README.md):
    0  success
    1  error: something went wrong doing what was asked (a file, a subprocess, git)
    2  bad input: an invalid id, recipe, override, metric name or option value
    3  not found: no such run, recipe, workspace or artifact
    4  conflict: the run already exists, is already running, or has nothing to do
    5  registry: registry.db is corrupt, foreign or from a newer expctl (the hint says what to do)
    6  missing tool: screen, tmux, git or Slurm is not installed, or a Python package that a
       metric source needs (the message gives the install command)
    130 interrupted (Ctrl-C)
`expctl wait` and `expctl cycle` exit with the run's own exit code when the run failed,
128 + the signal number when it was killed, 124 when `wait --timeout` ran out and 125 when
the run was lost (its supervisor or session vanished without an exit record).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    BAD_INPUT = 2
    NOT_FOUND = 3
    CONFLICT = 4
    REGISTRY = 5
    MISSING_TOOL = 6
    INTERRUPTED = 130


class ExpctlError(Exception):
    """A failure the user can act on: one line of message, an optional hint."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


class BadInputError(ExpctlError):
    exit_code = ExitCode.BAD_INPUT


class NotFoundError(ExpctlError):
    exit_code = ExitCode.NOT_FOUND


class ConflictError(ExpctlError):
    exit_code = ExitCode.CONFLICT


class RegistryError(ExpctlError):
    exit_code = ExitCode.REGISTRY


class MissingToolError(ExpctlError):
    exit_code = ExitCode.MISSING_TOOL


class JobFailedError(ExpctlError):
    """A training or validation job ended badly; the CLI exits with the job's own code."""

    def __init__(self, message: str, exit_code: int, hint: str | None = None):
        super().__init__(message, hint)
        self.exit_code = exit_code if 0 < exit_code < 256 else 1  # type: ignore[assignment]


class NothingToCommitError(ConflictError):
    """`commit` found no change in the run folder: `cycle` treats this as done."""


class Terminated(BaseException):
    """SIGTERM reached an expctl command. A BaseException, like KeyboardInterrupt, so that
    phases clean up and record the interruption, but not one the CLI framework swallows."""
