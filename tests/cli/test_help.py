"""Help that reads like a CLI: metavars that name what to type, choices listed and checked by
the parser, one meaning per short flag, and a working example on every command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from expctl.cli import COMMANDS
from expctl.cli.app import app, load_command

# What typer and click print when a parameter has no metavar of its own.
TYPE_NAMES = {"TEXT", "INTEGER", "FLOAT", "BOOLEAN", "PATH", "FILENAME", "UUID", "CHOICE",
              "INTEGER RANGE", "FLOAT RANGE", "DIRECTORY"}
# `-n` is "how many": the last N lines, the first N runs, the best N runs (head/tail's -n).
COUNTS = {"--lines", "--limit", "--top"}


def commands() -> list[tuple[str, object]]:
    """Every command line's command: `expctl ls`, `expctl queue`, `expctl queue cancel`..."""
    found = []
    for name in COMMANDS:
        command = load_command(name)
        found.append((name, command))
        found += [(f"{name} {sub}", c) for sub, c in getattr(command, "commands", {}).items()]
    return found


ALL = commands()
ROOT = typer.main.get_command(app)


def takes_value(param) -> bool:
    return param.name != "help" and not getattr(param, "is_flag", False)


@pytest.mark.parametrize(("name", "command"), ALL, ids=[n for n, _ in ALL])
def test_no_metavar_is_a_type_name(name: str, command, cli, tmp_path: Path) -> None:
    """Each argument and option value is named for what to type (RUN, KEY=VALUE, N,
    FORMAT), never by its Python or click type, in the parameters and in the help shown."""
    for param in [p for p in command.params if takes_value(p)]:
        assert param.metavar, (name, param.name)
        assert param.metavar == param.metavar.upper(), (name, param.metavar)
        assert not set(re.sub(r"[\[\].]", " ", param.metavar).split()) & TYPE_NAMES, \
            (name, param.metavar)
    code, out, err = cli(*name.split(), "--help", cwd=tmp_path)
    assert code == 0, err
    usage = out.splitlines()[0].split("[OPTIONS]")[1].split()
    options = re.findall(r"^  (?:-\w, )?--[\w-]+ (\S+)", out.split("Options:")[1], re.M)
    for metavar in usage + options:
        assert metavar == metavar.upper(), (name, metavar)
        assert not re.search(r"(RUN|SWEEP)_IDS?", metavar), (name, metavar)  # a param's name
        assert re.sub(r"[\[\].]", "", metavar) not in TYPE_NAMES, (name, metavar)
    assert not re.search(r"<[\w\[\]]+>|\{\w+\}", " ".join(usage + options)), name


def test_the_global_options_name_their_values_too() -> None:
    for param in [p for p in ROOT.params if takes_value(p)]:
        assert param.metavar == "DIR", param.name


@pytest.mark.parametrize(("name", "command"), ALL, ids=[n for n, _ in ALL])
def test_every_choice_is_listed_in_the_help(name: str, command) -> None:
    for param in command.params:
        choices = getattr(param.type, "choices", None)
        if param.name in ("fmt", "phase", "status", "x"):
            assert choices, (name, param.name)  # checked by the parser, not the body
        for choice in choices or ():
            assert re.search(rf"\b{re.escape(str(choice))}\b", param.help), (name, choice)


@pytest.mark.parametrize(("args", "message"), [
    (["ls", "--status", "bogus"], "Invalid value for '--status': 'bogus' is not one of "
     "'created', 'queued', 'blocked', 'running', 'finished', 'failed', 'killed', 'lost', "
     "'imported'."),
    (["leaderboard", "--format", "xml"], "Invalid value for '--format' / '-f': 'xml' is not "
     "one of 'table', 'md', 'csv', 'json', 'latex'."),
    (["plot", "loss", "-f", "xlsx"], "Invalid value for '--format' / '-f': 'xlsx' is not one "
     "of 'figure', 'csv'."),
    (["gather", "--phase", "test"], "Invalid value for '--phase': 'test' is not one of "
     "'train', 'validate'."),
    (["report", "--x", "wall"], "Invalid value for '--x': 'wall' is not one of 'step', "
     "'epoch', 'time'."),
    (["queue", "-f", "yaml"], "Invalid value for '--format' / '-f': 'yaml' is not one of "
     "'table', 'json', 'csv'."),
])
def test_a_bad_choice_is_a_usage_error(workspace: Path, cli, args, message: str) -> None:
    """Refused by the parser before the command runs: exit 2, the allowed values, no
    traceback, nothing on stdout."""
    code, out, err = cli(*args)
    assert (code, out) == (2, "")
    assert f"Error: {message}" in err.splitlines()
    assert "Traceback" not in err


def test_each_short_flag_has_one_meaning_across_commands() -> None:
    """`-f` is --format in every command, `-s` --set, `-n` how many (N)..."""
    meanings: dict[str, set[str]] = {}
    for _, command in [("", ROOT), *ALL]:
        for param in command.params:
            longs = [o for o in param.opts + param.secondary_opts if o.startswith("--")]
            for short in [o for o in param.opts + param.secondary_opts if len(o) == 2]:
                meanings.setdefault(short, set()).update(longs)
                if short == "-n":
                    assert param.metavar == "N", param.opts
    assert meanings.pop("-n") <= COUNTS
    assert {s: m for s, m in meanings.items() if len(m) != 1} == {}
    assert meanings["-f"] == {"--format"} and meanings["-s"] == {"--set"}


def example_lines(command) -> list[str]:
    """The command lines of a command's examples (comments dropped)."""
    lines = [line.strip() for line in (command.epilog or "").splitlines()]
    return [line.split(" #")[0].strip() for line in lines if line.startswith("expctl ")]


def example_commands(line: str) -> list[list[str]]:
    """The expctl invocations of one example line: `a && b | c > f` is split like a shell."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    parts, current = [], []
    for token in lexer:
        if token in ("&&", "||", "|", ">", ";"):
            parts.append(current)
            current = []
        else:
            current.append(token)
    parts.append(current)
    return [p[1:] for p in parts if p and p[0] == "expctl"]


@pytest.mark.parametrize(("name", "command"), ALL, ids=[n for n, _ in ALL])
def test_every_command_has_an_example_that_parses(name: str, command, cli,
                                                  tmp_path: Path) -> None:
    code, out, _ = cli(*name.split(), "--help", cwd=tmp_path)
    assert code == 0
    examples = out.split("\n\n  Example")
    assert len(examples) == 2 and examples[1].startswith(("s:\n", ":\n")), out
    assert all(len(line) <= 80 for line in examples[1].splitlines()), examples[1]
    lines = example_lines(command)
    assert lines and any(line.startswith(f"expctl {name}") for line in lines), lines
    for line in lines:
        for args in example_commands(line):
            target = load_command(args[0])
            rest = args[1:]
            if rest and rest[0] in getattr(target, "commands", {}):
                target, rest = target.commands[rest[0]], rest[1:]
            target.make_context(args[0], rest)  # a usage error raises


def test_no_second_paragraph_repeats_the_summary() -> None:
    for name, command in ALL:
        paragraphs = [p.strip() for p in (command.help or "").split("\n\n")]
        summary = paragraphs[0].rstrip(".")
        assert all(not p.startswith(summary) for p in paragraphs[1:]), name


def test_literal_choices_match_what_they_stand_for() -> None:
    """ls --status and the x axes are spelt out in the CLI so its help imports nothing."""
    from typing import get_args

    from expctl.cli.ls import RunState
    from expctl.cli.params import Axis
    from expctl.state import STATES
    from expctl.visual.series import X_AXES

    assert get_args(RunState) == STATES
    assert get_args(Axis) == X_AXES
