"""README.md kept true: every command and option it names exists, `make test` says why tests
were skipped, and the built-in example's figures are the ones `make demo` recorded (checked
against the demo's workspace, demo/workspace, once `make demo` has made it)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import click
import pytest
import typer

from expctl.cli import COMMANDS
from expctl.cli.app import app, load_command
from expctl.registry.settings import read_settings
from expctl.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEMO = ROOT / "demo" / "workspace"
OPTION = re.compile(r"(?<![\w.-])(--?[A-Za-z][\w-]*)")


def command_lines() -> list[str]:
    """Every command line the README shows: in code blocks, and inline code that starts with
    `expctl` or with a command followed by an option (`ls --archived`)."""
    fenced = re.findall(r"^\s*```[^\n]*\n(.*?)^\s*```", README, re.M | re.S)
    prose = re.sub(r"^\s*```[^\n]*\n.*?^\s*```", "", README, flags=re.M | re.S)
    blocks = [line for line in prose.splitlines() if line.startswith("    ")]
    prose = "\n".join(line for line in prose.splitlines() if not line.startswith("    "))
    found = []
    for line in blocks + [line for block in fenced for line in block.splitlines()]:
        code = line.split(" #", 1)[0].strip().removeprefix("$ ")
        found += [part.strip() for part in re.split(r"&&|;|\\$", code)
                  if part.strip().startswith("expctl ")]
    for paragraph in re.split(r"\n\s*\n", prose):  # inline code never spans paragraphs
        for span in re.findall(r"`([^`]+)`", paragraph):
            span = " ".join(span.split())
            first, _, rest = span.partition(" ")
            if span.startswith("rm -rf ") or "<TAB>" in span:  # the shell's rm; completion
                continue
            if first == "expctl" or (first in COMMANDS and rest.startswith("-")):
                found.append(span if first == "expctl" else f"expctl {span}")
    return found


def check_command_line(group: click.Group, line: str) -> list[str]:
    """What of `line` does not exist: its command, subcommand or options."""
    words = line.split()[1:]
    while words and words[0].startswith("-"):  # global options: `expctl -C DIR ls`
        option = words.pop(0)
        if option not in {o for p in group.params for o in p.opts} | {"--help"}:
            return [f"{line}: no global option {option}"]
        words = words[1:]  # the option's value
    if not words:
        return []
    if words[0] not in COMMANDS:
        return [f"{line}: no command `{words[0]}`"]
    command = load_command(words[0])
    if isinstance(command, click.Group) and len(words) > 1 and words[1] in command.commands:
        command = command.commands[words[1]]
    known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
    if isinstance(command, click.Group):
        known |= {o for sub in command.commands.values() for p in sub.params for o in p.opts}
    options = OPTION.findall(" ".join(words[1:]).replace("|", " "))
    return [f"{line}: `{words[0]}` has no option {o}" for o in options if o not in known]


def test_every_command_and_option_the_readme_names_exists() -> None:
    group = typer.main.get_command(app)
    lines = command_lines()
    assert len(lines) > 60 and any("leaderboard" in line for line in lines)  # the parse works
    named = {line.split()[1] for line in lines if not line.split()[1].startswith("-")}
    assert {"ls", "cycle", "rm", "archive", "gc", "tag", "note", "compare"} <= named
    problems = [p for line in lines for p in check_command_line(group, line)]
    assert not problems, "\n".join(problems)


def test_the_check_finds_a_missing_command_and_option() -> None:
    group = typer.main.get_command(app)
    assert check_command_line(group, "expctl ls --no-such-flag")
    assert check_command_line(group, "expctl frobnicate RUN")
    assert not check_command_line(group, "expctl -C DIR ls --tag T")
    assert not check_command_line(group, "expctl queue cancel RUN")


def test_make_test_prints_skip_reasons() -> None:
    """The README says `make test` tells why a test was skipped: pytest's -rs on every run."""
    assert "prints why any test\nwas skipped (`-rs`)" in README
    made = subprocess.run(["make", "-n", "test"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    pytest_runs = [line for line in made.splitlines() if "-m pytest" in line]
    assert len(pytest_runs) >= 2 and all(" -rs" in line for line in pytest_runs), made


def example_table() -> dict[str, dict[str, str]]:
    """The README's table of the built-in example: run -> column -> cell."""
    section = README.split("## The built-in example", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    rows = rows[next(i for i, row in enumerate(rows) if row.startswith("| run |")):]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    table = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        if len(cells) == len(header) and cells[0] != header[0]:
            table[cells[0]] = dict(zip(header, cells, strict=True))
    return table


# README column -> the metric it shows (formatted as expctl.yaml says).
COLUMNS = {"mAP": "map", "small_map": "small_map", "AP50": "ap50", "AP small-area": "map_small"}
DEMO_RUNS = ("3scale_baseline", "3scale_sizeaware")


def test_the_example_table_names_the_demo_runs_and_uses_the_number_format() -> None:
    table = example_table()
    assert set(DEMO_RUNS) <= set(table)
    for run in table:
        for column in COLUMNS:
            assert re.fullmatch(r"\d+\.\d\d%", table[run][column]), (run, column)


@pytest.mark.skipif(not all((DEMO / "runs" / r / "experiment_results.json").exists()
                            for r in DEMO_RUNS),
                    reason="no demo/workspace with both runs recorded: run `make demo` first")
def test_the_example_table_is_what_the_demo_recorded() -> None:
    """The figures README shows for the demo's two runs are the ones `make demo` recorded."""
    settings, table = read_settings(Workspace(DEMO)), example_table()
    for run in DEMO_RUNS:
        results = json.loads((DEMO / "runs" / run / "experiment_results.json").read_text())
        for column, metric in COLUMNS.items():
            shown = settings.format(metric).value(results["metrics"][metric])
            assert table[run][column] == shown, (run, column, shown)
    # The commit message README shows is the demo's last commit's, line by line.
    message = subprocess.run(["git", "-C", str(DEMO), "log", "-1", "--format=%B"],
                             capture_output=True, text=True, check=True).stdout
    for line in message.splitlines():
        if line.startswith(("feat:", "- Performance:", "- Small objects:", "- Criteria:")):
            assert f"  {line}\n" in README, line
