"""Start-up cost and help: what the CLI imports, and help text on every command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_jsonl

HEAVY = ("sqlmodel", "sqlalchemy", "git", "torch", "tensorboard", "accelerate", "pydantic")


def typer_needs_pydantic() -> bool:
    """Newer typer releases coerce every parameter through pydantic, so running a command
    imports it; expctl no longer patches typer's private code to avoid that."""
    import importlib.metadata

    return any(r.startswith("pydantic") for r in importlib.metadata.requires("typer") or [])

LOADED = """
import json, sys
heavy = {heavy!r}
{body}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))))
"""


def loaded_heavy_modules(body: str, cwd: Path) -> list[str]:
    code = LOADED.format(heavy=HEAVY, body=body)
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_module(tmp_path: Path) -> None:
    assert loaded_heavy_modules("import expctl.cli", tmp_path) == []


RUN_COMMAND = """
from expctl.cli import main
sys.argv = ["expctl", *{args!r}]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
"""


@pytest.mark.parametrize("args", [
    ["ls"],
    ["ls", "--status", "imported", "--limit", "2", "--format", "json"],
    ["leaderboard", "--metric", "small_map", "--top", "2"],
    ["leaderboard", "--metric", "small_map", "--where", "lr=0.1", "--format", "md"],
])
def test_read_commands_stay_on_the_standard_library(workspace: Path, cli, args) -> None:
    """ls and leaderboard on an existing SQLite registry: no SQLAlchemy, SQLModel, pydantic."""
    rows = [{"id": f"r{i}", "metrics": {"small_map": i / 10}, "params": {"lr": 0.1}}
            for i in range(3)]
    assert cli("import", str(write_jsonl(workspace.parent / "r.jsonl", rows)))[0] == 0
    loaded = loaded_heavy_modules(RUN_COMMAND.format(args=args), workspace)
    assert loaded == (["pydantic"] if typer_needs_pydantic() else [])


def registered_commands() -> list[str]:
    from expctl.cli import app

    names = []
    for command in app.registered_commands:
        names.append(command.name or command.callback.__name__.replace("_", "-"))
    for group in app.registered_groups:
        names.append(group.name or group.typer_instance.info.name)
    return names


def test_the_commands_of_this_module_are_registered() -> None:
    assert {"ls", "show", "record", "import", "reindex", "leaderboard"} <= \
        set(registered_commands())


@pytest.mark.parametrize("name", registered_commands())
def test_every_command_has_help(name: str, cli, tmp_path: Path) -> None:
    code, out, err = cli(name, "--help", cwd=tmp_path)
    assert code == 0, err
    assert out.startswith(f"Usage: expctl {name}")
    described = out.split("\n\n")[1].strip()  # the paragraph after the usage line
    assert described and not described.startswith("Options"), out


def test_every_option_and_argument_has_help() -> None:
    import typer

    from expctl.cli import app

    group = typer.main.get_command(app)
    missing = []
    for name, command in group.commands.items():
        for param in command.params:
            if param.name == "help":  # click's own --help
                continue
            text = getattr(param, "help", None)
            if not text:
                missing.append(f"{name} {param.name}")
    assert missing == []


def test_top_level_help(cli, tmp_path: Path) -> None:
    code, out, _ = cli("--help", cwd=tmp_path)
    assert code == 0
    for name in ("ls", "show", "record", "import", "reindex", "leaderboard"):
        assert f"  {name}" in out
