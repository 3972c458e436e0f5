"""The typer app, the global options and the helpers every command module uses.

Keep expensive imports out of this module and the command modules' top level: sqlmodel,
SQLAlchemy, GitPython, pydantic, torch and tensorboard are imported inside command bodies.
"""

from __future__ import annotations

import difflib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

import typer
from typer.core import TyperCommand, TyperGroup

from expctl.cli.catalog import COMMANDS, command_module


def load_command(name: str) -> TyperCommand | TyperGroup:
    """The click command of `name`, built from the one-command Typer app (`app`) of its
    module."""
    module = importlib.import_module(command_module(name))
    return typer.main.get_command(module.app)


class CommandCatalog(TyperGroup):
    """The root group: lists the catalog's commands and summaries, and builds a command only
    when the command line names it (typer's documented `cls=` extension point)."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(COMMANDS)

    # Completing a command name asks get_command for every name that fits: while it does,
    # each is answered by a stand-in holding the catalog's summary, and nothing is imported.
    _summaries_only = False

    def shell_complete(self, ctx: typer.Context, incomplete: str):
        """The command names (with their summaries) and root options that fit `incomplete`."""
        self._summaries_only = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._summaries_only = False

    def get_command(self, ctx: typer.Context, cmd_name: str):
        if self._summaries_only and cmd_name not in self.commands and cmd_name in COMMANDS:
            summary = COMMANDS[cmd_name]
            return TyperCommand(cmd_name, help=summary, short_help=summary)
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.commands[cmd_name] = load_command(cmd_name)
        command = self.commands.get(cmd_name)
        if command is None and not ctx.resilient_parsing:
            close = difflib.get_close_matches(cmd_name, COMMANDS)
            ctx.fail(f"No such command '{cmd_name}'."
                     + (f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""))
        return command

    def format_commands(self, ctx: typer.Context, formatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl(list(COMMANDS.items()))


@dataclass
class Application:
    """The one application object: the typer app every command module registers on, and what
    the global options of the command line being run said (set by their callback)."""

    typer_app: typer.Typer
    workspace: str | None = None  # -C/--workspace


# Every command's Typer app shares these: plain click help (fast, no rich import for --help),
# expctl's own error lines instead of typer's tracebacks; typer's completion options
# (--install-completion, --show-completion) only on the root app.
TYPER_SETTINGS = {"rich_markup_mode": None, "pretty_exceptions_enable": False,
                  "add_completion": False}

APPLICATION = Application(typer.Typer(
    name="expctl",
    help="Experiment orchestration for deep-learning research: runs, jobs, metrics, leaderboards.",
    cls=CommandCatalog,  # builds only the command the command line names
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    **{**TYPER_SETTINGS, "add_completion": True},
))
app = APPLICATION.typer_app


def command_app(**settings) -> typer.Typer:
    """The Typer app of one command module, with the one command (or command group) it
    registers; CommandCatalog builds it when the command line names it."""
    return typer.Typer(**TYPER_SETTINGS, **settings)


def _version(value: bool) -> None:
    if value:
        from expctl import __version__

        typer.echo(f"expctl {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    workspace: Path | None = typer.Option(
        None, "--workspace", "-C", metavar="DIR", help="Workspace folder (default: "
        "EXPCTL_WORKSPACE, or the nearest folder upwards with expctl.yaml).", show_default=False,
    ),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """expctl: new -> launch -> gather -> validate -> record -> leaderboard -> commit."""
    APPLICATION.workspace = str(workspace) if workspace else None


def get_workspace():
    """The workspace this command acts on. Runs waiting in its queue get a scheduler again if
    theirs is gone (killed, or the machine restarted): any command is enough."""
    from expctl.queue.service import wake
    from expctl.workspace import find_workspace

    ws = find_workspace(APPLICATION.workspace)
    wake(ws.root)
    return ws


def explicit_workspace() -> str | None:
    return APPLICATION.workspace or os.environ.get("EXPCTL_WORKSPACE")

