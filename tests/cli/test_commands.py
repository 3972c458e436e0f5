"""The command modules: one per command, named after it, registered from one list."""

from __future__ import annotations

import ast
from pathlib import Path

from expctl.cli import COMMANDS, command_module, load_command

CLI_DIR = Path(__file__).resolve().parents[2] / "expctl" / "cli"
HELPERS = {"__init__", "app", "catalog", "shared", "confirm", "removing", "watching",
           "params"}  # register nothing


def test_every_command_of_the_catalog_is_built_from_the_module_named_after_it() -> None:
    for name in COMMANDS:
        command = load_command(name)
        assert command.callback.__module__ == command_module(name), name
        for sub in getattr(command, "commands", {}).values():  # a group's (queue's) commands
            assert sub.callback.__module__ == command_module(name), (name, sub.name)


def test_each_summary_is_the_first_line_of_its_commands_help() -> None:
    """`expctl --help` lists the catalog's summaries without importing the commands: they
    must be the commands' own, and fit an 80-column terminal."""
    for name, summary in COMMANDS.items():
        assert load_command(name).help.split("\n\n")[0].strip() == summary, name
        assert len(f"  {name:<15}{summary}") <= 80, name


def test_the_top_level_help_lists_every_command_in_order(cli, tmp_path: Path) -> None:
    code, out, _ = cli("--help", cwd=tmp_path)
    assert code == 0
    listed = [line.split()[0] for line in out.split("Commands:\n")[1].splitlines() if line]
    assert listed == list(COMMANDS)


def test_a_misspelt_command_names_the_close_ones(cli, tmp_path: Path) -> None:
    code, _, err = cli("leaderbord", cwd=tmp_path)
    assert code == 2
    assert "No such command 'leaderbord'. Did you mean 'leaderboard'?" in err


def test_no_other_module_registers_a_command() -> None:
    """A module of expctl/cli/ is a command's (named after it) or a helper that registers none."""
    modules = {p.stem for p in CLI_DIR.glob("*.py")}
    commands = {command_module(c).rsplit(".", 1)[1] for c in COMMANDS}
    assert modules - commands == HELPERS
    for stem in HELPERS - {"__init__", "app", "catalog"}:
        tree = ast.parse((CLI_DIR / f"{stem}.py").read_text(encoding="utf-8"))
        decorators = [d for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                      for d in n.decorator_list]
        assert not any("command" in ast.unparse(d) for d in decorators), stem


def test_the_top_level_help_printed_without_typer_is_typers_own(monkeypatch) -> None:
    """`expctl --help` prints the catalog's text without importing typer: it must be exactly
    what typer renders (a changed global option or summary must change both)."""
    import typer

    from expctl.cli.app import app
    from expctl.cli.catalog import top_level_help

    monkeypatch.setenv("COLUMNS", "120")
    group = typer.main.get_command(app)
    ctx = typer.Context(group, info_name="expctl", **group.context_settings)
    assert top_level_help() == group.get_help(ctx) + "\n"


def test_a_narrow_terminal_gets_typers_layout(cli, tmp_path: Path, monkeypatch) -> None:
    from expctl.cli.catalog import top_level_help

    monkeypatch.setenv("COLUMNS", "60")
    assert top_level_help() is None
    code, out, _ = cli("--help", cwd=tmp_path)
    assert code == 0 and "Commands:" in out
    assert max(len(line) for line in out.splitlines()) <= 60
