"""Garbled files (bytes that are not UTF-8, wrong types, wrong shapes): one line naming the
file, never `internal error`; `ls` and `reindex` still list every other run."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BASELINE_RECIPE
from helpers import expctl_script, git

from expctl.workspace import init_workspace

BAD_UTF8 = b"id: caf\xe9\xff\n"


def _cli(root: Path, *args: str) -> tuple[int, str, str]:
    done = subprocess.run([expctl_script(), *args], cwd=root, capture_output=True, text=True,
                          timeout=120)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with two runs: `other` (recorded) and `victim` (launched, ended, recorded)."""
    root = tmp_path_factory.mktemp("garbled") / "ws"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    init_workspace(root)
    (root / "recipes" / "baseline.yaml").write_text(BASELINE_RECIPE, encoding="utf-8")
    for args in (["new", "other", "--recipe", "baseline"],
                 ["new", "victim", "--recipe", "baseline"], ["launch", "victim", "--local"],
                 ["wait", "victim"], ["record", "victim", "small_map=0.1"],
                 ["record", "other", "small_map=0.2"]):
        code, _, err = _cli(root, *args)
        assert code == 0, (args, err)
    return root


def _job(update: dict):
    def garble(path: Path) -> None:
        data = json.loads(path.read_text())
        data.update(update)
        path.write_text(json.dumps(data))
    return garble


def _write(data: bytes):
    return lambda path: path.write_bytes(data)


RUN_GARBLINGS = {
    "run.yaml not UTF-8": ("run.yaml", _write(BAD_UTF8)),
    "config.yaml not UTF-8": ("config.yaml", _write(b"params: {lr: \xff}\n")),
    "config.yaml a list": ("config.yaml", _write(b"- 1\n- 2\n")),
    "job.json elapsed_s text": ("training_logs/job.json", _job({"elapsed_s": "x"})),
    "job.json exit_code text": ("training_logs/job.json", _job({"exit_code": "0"})),
    "job.json supervisor a list": ("training_logs/job.json", _job({"supervisor": [1]})),
    "results not UTF-8": ("experiment_results.json", _write(b'{"metrics": {"\xff": 1}}')),
    "results metrics a list": ("experiment_results.json", _write(b'{"metrics": [1]}')),
    "run.yaml a list": ("run.yaml", _write(b"- victim\n")),
}


def _one_line_naming(err: str, name: str) -> None:
    assert "internal error" not in err and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if name in line]
    assert lines, err


@pytest.mark.parametrize("case", sorted(RUN_GARBLINGS))
def test_a_garbled_run_file_is_one_line_and_others_are_listed(template: Path, tmp_path: Path,
                                                              case: str) -> None:
    root = tmp_path / "ws"
    shutil.copytree(template, root, symlinks=True)
    for name in ("registry.db", "registry.db-wal", "registry.db-shm"):
        (root / name).unlink(missing_ok=True)  # the first command must build the index
    name, garble = RUN_GARBLINGS[case]
    garble(root / "runs" / "victim" / name)
    shown = f"victim/{name}"
    for args in (["ls", "--format", "json"], ["ls", "--format", "json"], ["reindex"]):
        code, out, err = _cli(root, *args)
        assert code == 0, (args, err)
        _one_line_naming(err, shown)
        if args[0] == "ls":
            assert "other" in [r["id"] for r in json.loads(out)["runs"]], (args, out)
    code, out, err = _cli(root, "leaderboard", "--metric", "small_map", "--format", "json")
    assert code == 0 and "other" in out, err
    for args in (["show", "victim"], ["status", "victim"]):
        code, out, err = _cli(root, *args)
        assert code in (0, 2), (args, code, err)
        if code:
            _one_line_naming(err, shown)
            assert len(err.strip().splitlines()) <= 2, err  # the message and its hint


@pytest.mark.parametrize("case", ["expctl.yaml not UTF-8", "recipe not UTF-8",
                                  "recipe a list"])
def test_a_garbled_workspace_file_is_one_line(template: Path, tmp_path: Path, case: str) -> None:
    root = tmp_path / "ws"
    shutil.copytree(template, root, symlinks=True)
    if case.startswith("expctl.yaml"):
        target, commands = root / "expctl.yaml", [["ls"], ["leaderboard"], ["reindex"]]
        (root / "expctl.yaml").write_bytes(b"baseline: \xff\xfe\n")
    else:
        target, commands = root / "recipes" / "baseline.yaml", [["new", "baseline_2k"]]
        target.write_bytes(BAD_UTF8 if case.endswith("UTF-8") else b"- a\n- b\n")
    for args in commands:
        code, _, err = _cli(root, *args)
        assert code == 2, (args, err)
        _one_line_naming(err, target.name)
        assert len(err.strip().splitlines()) <= 2, err
    if target.parent.name == "recipes":
        code, out, err = _cli(root, "recipes")
        assert code == 0 and "invalid" in out, (out, err)
        code, out, err = _cli(root, "ls", "--format", "json")
        assert code == 0 and {r["id"] for r in json.loads(out)["runs"]} == {"other", "victim"}, err
