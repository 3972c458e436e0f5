"""The command modules: one per command, named after it, registered from one list."""

from __future__ import annotations

import ast
from pathlib import Path

import typer

from expctl.cli import COMMANDS, app, command_module

CLI_DIR = Path(__file__).resolve().parents[2] / "expctl" / "cli"
HELPERS = {"__init__", "app", "shared", "confirm", "removing", "watching"}  # register nothing


def test_every_command_of_the_list_is_registered_and_nothing_else() -> None:
    group = typer.main.get_command(app)
    assert sorted(group.commands) == sorted(COMMANDS)


def test_each_command_lives_in_the_module_named_after_it() -> None:
    for info in app.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")
        assert info.callback.__module__ == command_module(name), name
    for group in app.registered_groups:
        module = {command_module(group.name)}
        callbacks = [c.callback.__module__ for c in group.typer_instance.registered_commands]
        assert set(callbacks) <= module, group.name


def test_no_other_module_registers_a_command() -> None:
    """A module of expctl/cli/ is a command's (named after it) or a helper that registers none."""
    modules = {p.stem for p in CLI_DIR.glob("*.py")}
    commands = {command_module(c).rsplit(".", 1)[1] for c in COMMANDS}
    assert modules - commands == HELPERS
    for stem in HELPERS - {"__init__", "app"}:
        tree = ast.parse((CLI_DIR / f"{stem}.py").read_text(encoding="utf-8"))
        decorators = [d for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
                      for d in n.decorator_list]
        assert not any("command" in ast.unparse(d) for d in decorators), stem
