"""The typer that runs the tests is the one asked for: `make test-typer-lowest` sets
EXPCTL_TEST_TYPER to pyproject's lowest typer and puts it in front of the venv's."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import expctl_script

ROOT = Path(__file__).resolve().parents[2]


def _floor_and_ceiling() -> tuple[str, str]:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'"typer>=([0-9.]+),<([0-9.]+)"', text)
    assert match, "pyproject names a typer range with both ends"
    return match.group(1), match.group(2)


def test_the_typer_under_test_is_the_one_asked_for() -> None:
    wanted = os.environ.get("EXPCTL_TEST_TYPER")
    if not wanted:
        pytest.skip("EXPCTL_TEST_TYPER not set (set by `make test-typer-lowest`)")
    import importlib.metadata

    assert importlib.metadata.version("typer") == wanted
    done = subprocess.run([expctl_script(), "--version"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("expctl "), done.stderr


def test_the_installed_typer_is_inside_pyprojects_range() -> None:
    import importlib.metadata

    floor, ceiling = _floor_and_ceiling()
    version = tuple(int(p) for p in importlib.metadata.version("typer").split(".")[:3])
    assert tuple(int(p) for p in floor.split(".")) <= version
    assert version < tuple(int(p) for p in ceiling.split("."))


def test_the_makefile_tests_the_lowest_typer_pyproject_admits() -> None:
    floor, _ = _floor_and_ceiling()
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    lowest = re.search(r"^TYPER_LOWEST \?= ([0-9.]+)$", makefile, re.M)
    assert lowest and tuple(map(int, lowest.group(1).split("."))) == \
        tuple(map(int, (floor + ".0.0").split(".")[:3]))
