"""Start-up cost and help: what the CLI imports, and help text on every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_jsonl

from expctl.cli import COMMANDS

COMMAND_NAMES = list(COMMANDS)
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


def test_the_top_level_help_imports_no_typer(tmp_path: Path) -> None:
    code = ("import sys\nfrom expctl.cli import run\nrun(['--help'])\n"
            "print('typer' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": "100"})
    assert done.stdout.startswith("Usage: expctl [OPTIONS] COMMAND")
    assert done.stdout.splitlines()[-1] == "False"


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
    ["ls", "--where", "lr<=0.1", "--where", "small_map>0.05", "--where", "status!=failed"],
])
def test_read_commands_stay_on_the_standard_library(workspace: Path, cli, args) -> None:
    """ls and leaderboard on an existing SQLite registry: no SQLAlchemy, SQLModel, pydantic."""
    rows = [{"id": f"r{i}", "metrics": {"small_map": i / 10}, "params": {"lr": 0.1}}
            for i in range(3)]
    assert cli("import", str(write_jsonl(workspace.parent / "r.jsonl", rows)))[0] == 0
    loaded = loaded_heavy_modules(RUN_COMMAND.format(args=args), workspace)
    assert loaded == (["pydantic"] if typer_needs_pydantic() else [])


def test_the_commands_of_this_module_are_registered() -> None:
    from expctl.cli import COMMANDS

    assert {"ls", "show", "record", "import", "reindex", "leaderboard"} <= set(COMMANDS)


COMMAND_MODULES = """
import sys
from expctl.cli import run
run({args!r})
print(sorted(m for m in sys.modules if m.startswith("expctl.cli.")))
"""


@pytest.mark.parametrize(("args", "expected"), [
    (["--help"], []), (["ls"], ["expctl.cli.ls"]), (["ls", "--help"], ["expctl.cli.ls"]),
    (["queue", "pause", "--help"], ["expctl.cli.queue"]),
])
def test_only_the_named_command_module_is_imported(tmp_path: Path, args, expected) -> None:
    """`expctl --help` imports no command module, `expctl ls` only ls's (and the helpers)."""
    done = subprocess.run([sys.executable, "-c", COMMAND_MODULES.format(args=args)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    loaded = eval(done.stdout.strip().splitlines()[-1])  # noqa: S307 - our own printed list
    helpers = {"expctl.cli.app", "expctl.cli.catalog", "expctl.cli.shared", "expctl.cli.params"}
    assert sorted(set(loaded) - helpers) == expected


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_every_command_has_help(name: str, cli, tmp_path: Path) -> None:
    code, out, err = cli(name, "--help", cwd=tmp_path)
    assert code == 0, err
    assert out.startswith(f"Usage: expctl {name}")
    described = out.split("\n\n")[1].strip()  # the paragraph after the usage line
    assert described and not described.startswith("Options"), out


def test_every_option_and_argument_has_help() -> None:
    from expctl.cli import COMMANDS, load_command

    missing = []
    for name in COMMANDS:
        command = load_command(name)
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
