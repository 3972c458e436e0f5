"""The catalog of expctl's commands, standard library only: each name with its one-line
summary, in the order `--help` lists them, the module that holds it, and the top-level help,
which `expctl --help` prints without importing typer (the one command line a user types that
needs no command at all). expctl.cli.app builds a command only when the command line names it,
so `expctl ls` pays for one command module, not 33."""

from __future__ import annotations

import shutil

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


# The top-level help as typer renders it (click's layout at its 80-column cap), less the
# commands: printed by top_level_help without importing typer, which costs more than half of
# `expctl --help`. tests/cli/test_commands.py checks it against typer's own rendering.
HELP_HEAD = """Usage: expctl [OPTIONS] COMMAND [ARGS]...

  Experiment orchestration for deep-learning research: runs, jobs, metrics,
  leaderboards.

Options:
  -C, --workspace DIR   Workspace folder (default: EXPCTL_WORKSPACE, or the
                        nearest folder upwards with expctl.yaml).
  --version             Print the version and exit.
  --install-completion  Install completion for the current shell.
  --show-completion     Show completion for the current shell, to copy it or
                        customize the installation.
  -h, --help            Show this message and exit.

Commands:
"""
HELP_WIDTH = 80  # click's default max_content_width: wider terminals get the same text
NAME_COLUMN = max(len(name) for name in COMMANDS) + 2  # click's definition list: name, 2 spaces


def top_level_help() -> str | None:
    """`expctl --help`'s text, or None where click would lay it out differently (a terminal
    narrower than its 80-column cap, a summary that would wrap): typer renders it then."""
    if shutil.get_terminal_size().columns < HELP_WIDTH:
        return None
    text_width = HELP_WIDTH - 2 - NAME_COLUMN - 2  # click: width - 2, indent 2, the names
    if any(len(summary) > text_width for summary in COMMANDS.values()):
        return None
    rows = [f"  {name:<{NAME_COLUMN}}{summary}" for name, summary in COMMANDS.items()]
    return HELP_HEAD + "\n".join(rows) + "\n"
