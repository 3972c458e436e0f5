"""Values with quotes, spaces, `;`, `$(...)` and backticks reach the job verbatim, through
every launcher, and nothing is ever run by a shell (canary files must not appear)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from launchkit import RECIPE, LaunchKit, sessions_available

NASTY = "it's \"quoted\"; $(touch CANARY) `touch CANARY2` && touch CANARY3 | x > y $HOME"
NASTY_DIR = "work dir 'q' ;$(touch CANARY4)`touch CANARY5`"
NASTY_ENV = "a b; $(touch CANARY6) `touch CANARY7` \"c\" 'd' $PATH\nsecond line"


@pytest.fixture()
def qkit(tmp_path):
    recipe = {**RECIPE, "params": {**RECIPE["params"], "mode": "echo", "a": NASTY, "b": "x y"},
              "launch": {"workdir": NASTY_DIR, "env": {"ODD": NASTY_ENV}}}
    kit = LaunchKit(tmp_path, recipe)
    (tmp_path / NASTY_DIR).mkdir()
    yield kit
    kit.cleanup()


def canaries(workspace: Path) -> list[Path]:
    """CANARY files in the workspace (where every process of a launch runs), or in the test's
    working directory and home (where a stray shell would start)."""
    found = list(workspace.rglob("CANARY*"))
    return found + [p for d in {Path.cwd(), Path.home()} for p in d.glob("CANARY*")]


@pytest.mark.parametrize("launcher", ["local", "screen", "tmux"])
def test_nasty_values_arrive_verbatim_and_run_nothing(qkit, launcher):
    if not sessions_available(launcher):
        pytest.skip(f"{launcher} is not installed")
    qkit.new("q")
    qkit.launch("q", launcher)
    assert qkit.wait_ended("q")["exit_code"] == 0
    echo = json.loads((qkit.run_path("q") / "echo.json").read_text())
    assert echo["argv"] == [NASTY, "x y"]
    assert echo["odd"] == NASTY_ENV
    assert Path(echo["cwd"]) == (qkit.root / NASTY_DIR).resolve()
    assert canaries(qkit.root) == []
    # training_command.txt is the same argv, shell-quoted for a human to copy.
    import shlex

    written = (qkit.run_path("q") / "training_command.txt").read_text().strip()
    assert shlex.split(written)[-2:] == [NASTY, "x y"]


def test_dry_run_shows_the_exact_argv_and_starts_nothing(qkit):
    qkit.new("dry")
    result = qkit.cli("launch", "dry", "--local", "--dry-run")
    lines = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in result.stdout.splitlines()
             if line.strip()}
    assert json.loads(lines["argv"])[-3:] == ["echo", NASTY, "x y"]
    assert lines["cwd"] == str((qkit.root / NASTY_DIR).resolve())
    assert "EXPCTL_RUN_ID=dry" in result.stdout and "PYTHONUNBUFFERED=1" in result.stdout
    assert not (qkit.run_path("dry") / "launch.json").exists()
    assert canaries(qkit.root) == []
