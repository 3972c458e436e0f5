"""The catalog of expctl's commands: each name with its one-line summary, in the order
`--help` lists them, and the group that imports a command's module only when that command
runs, so `expctl --help` and `expctl ls` pay for one command module, not 33 (and completing a
command name in the shell for none)."""

from __future__ import annotations

import difflib
import importlib

import typer
from typer.core import TyperCommand, TyperGroup

# The experiment cycle's order. A test checks that each summary is the first line of the
# command's own help.
COMMANDS: dict[str, str] = {
    "init": "Make a folder an expctl workspace.",
    "recipes": "List the workspace's recipes.",
    "new": "Create a run folder with its config and code snapshot.",
    "snapshot": "Take the code snapshot of a run again, before its launch.",
    "sweep": "Make one run per combination of --set values.",
    "launch": "Start a run's training detached, under a supervisor.",
    "queue": "The workspace queue: positions and reasons; cancel, pause.",
    "status": "A run's job: state, step, ETA, latest metrics.",
    "logs": "Print or follow a run's training log.",
    "attach": "Attach this terminal to a run's screen/tmux session.",
    "stop": "Stop a running job and everything it started.",
    "wait": "Wait for a run to end, showing its progress.",
    "gather": "Bring a run's checkpoint, matrices and logs into its folder.",
    "validate": "Validate the gathered checkpoint, then gather and record.",
    "record": "Store a run's final metrics in its folder and the registry.",
    "cycle": "new, launch, wait, gather, validate, record [, commit].",
    "import": "Bring in results obtained elsewhere as imported runs.",
    "ls": "List runs, newest first.",
    "show": "Show one run: facts, status, params, metrics, files.",
    "tag": "Tag a run, or remove its tags.",
    "note": "Add a dated note to a run.",
    "leaderboard": "Rank runs by a metric, against the baseline.",
    "sweep-summary": "A sweep's metric per swept value, and its best run.",
    "compare": "Runs side by side: config, metrics, code changes.",
    "report": "Write an HTML report of the runs.",
    "plot": "Plot one logged series of several runs.",
    "tensorboard": "Serve the runs' TensorBoard event files locally.",
    "commit": "Commit a recorded run's files with a templated message.",
    "rm": "Delete runs: their folders and registry rows.",
    "archive": "Move runs to runs/.archive/, out of ls and the leaderboard.",
    "gc": "Delete the checkpoints of runs that a rule does not keep.",
    "clean-trees": "Remove the private working trees of runs done with them.",
    "reindex": "Rebuild the registry from the run folders.",
}


def command_module(name: str) -> str:
    """The module of command `name`: `expctl gather` is expctl.cli.gather."""
    return "expctl.cli." + {"import": "import_"}.get(name, name.replace("-", "_"))


def load_command(name: str) -> typer.core.TyperCommand | TyperGroup:
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
