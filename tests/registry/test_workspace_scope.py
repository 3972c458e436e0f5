"""Two workspaces on one registry (one SQLite file, or one PostgreSQL schema): each command
touches its own workspace's rows; `--all-workspaces` shows both."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_jsonl

from expctl.workspace import init_workspace


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A registry URL two workspaces name: a file outside both, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'team' / 'shared.db'}"
        return
    from postgres_server import fresh_schema, unavailable

    why = unavailable()
    if why:
        pytest.skip(why)
    with fresh_schema() as url:
        yield url


def _workspace(root: Path, url: str) -> Path:
    root.mkdir(parents=True)
    init_workspace(root)
    (root / "expctl.yaml").write_text(f"registry: {url}\nbaseline: base\n", encoding="utf-8")
    return root


def _import(cli, root: Path, rows: list[dict]) -> None:
    path = write_jsonl(root.parent / f"{root.name}.jsonl", rows)
    code, _, err = cli("import", str(path), cwd=root)
    assert code == 0, err


def _ls(cli, root: Path, *args: str) -> list[dict]:
    code, out, err = cli("ls", "--format", "json", "--limit", "0", *args, cwd=root)
    assert code == 0, err
    return json.loads(out)["runs"]


def _board(cli, root: Path, *args: str) -> list[tuple]:
    code, out, err = cli("leaderboard", "--metric", "map", "--format", "json", *args, cwd=root)
    assert code == 0, err
    return [(r["id"], r["map"], r["rank"], r["baseline"], r.get("workspace"))
            for r in json.loads(out)["runs"]]


def test_two_workspaces_share_a_registry(tmp_path: Path, cli, shared_url: str) -> None:
    (tmp_path / "team").mkdir()
    alice = _workspace(tmp_path / "alice", shared_url)
    bob = _workspace(tmp_path / "bob", shared_url)
    # The same run id in both workspaces, with different values.
    _import(cli, alice, [{"id": "base", "metrics": {"map": 0.30}},
                         {"id": "a1", "metrics": {"map": 0.35}}])
    _import(cli, bob, [{"id": "base", "metrics": {"map": 0.20}},
                       {"id": "b1", "metrics": {"map": 0.50}},
                       {"id": "b2", "metrics": {"map": 0.10}}])

    def check_both() -> None:
        assert sorted(r["id"] for r in _ls(cli, alice)) == ["a1", "base"]
        assert sorted(r["id"] for r in _ls(cli, bob)) == ["b1", "b2", "base"]
        assert _board(cli, alice) == [("a1", 0.35, 1, False, None),
                                      ("base", 0.30, 2, True, None)]
        assert _board(cli, bob) == [("b1", 0.50, 1, False, None),
                                    ("base", 0.20, 2, True, None),
                                    ("b2", 0.10, 3, False, None)]

    check_both()
    for _ in range(1):  # reindex in one leaves the other's rows, either way round
        for root in (alice, bob):
            code, _, err = cli("reindex", cwd=root)
            assert code == 0, err
            check_both()
    # One workspace's folder removed by hand: its rows go with its next command, the other's stay.
    shutil.rmtree(bob / "runs" / "b2")
    assert sorted(r["id"] for r in _ls(cli, bob)) == ["b1", "base"]
    assert sorted(r["id"] for r in _ls(cli, alice)) == ["a1", "base"]

    team = _ls(cli, alice, "--all-workspaces")
    assert sorted((r["id"], r["workspace"]) for r in team) == sorted(
        [("a1", str(alice)), ("base", str(alice)), ("b1", str(bob)), ("base", str(bob))])
    # Across workspaces: both `base` runs ranked, the baseline is the caller's own.
    assert _board(cli, bob, "--all-workspaces") == [
        ("b1", 0.50, 1, False, str(bob)), ("a1", 0.35, 2, False, str(alice)),
        ("base", 0.30, 3, False, str(alice)), ("base", 0.20, 4, True, str(bob))]
    code, out, err = cli("ls", "-A", cwd=alice)
    assert code == 0 and "workspace" in out.splitlines()[0] and str(bob) in out, err


def test_a_moved_workspace_keeps_its_key_and_a_copy_gets_its_own(tmp_path: Path) -> None:
    from expctl.registry.scope import workspace_key
    from expctl.workspace import Workspace

    first = tmp_path / "first"
    _workspace(first, "sqlite:///x.db")
    key = workspace_key(Workspace(first))
    assert workspace_key(Workspace(first)) == key
    copy = tmp_path / "copy"
    shutil.copytree(first, copy)
    assert workspace_key(Workspace(copy)) != key  # the original still holds its key
    moved = tmp_path / "moved"
    first.rename(moved)
    assert workspace_key(Workspace(moved)) == key  # the original is gone: it moved
    assert json.loads((moved / ".expctl" / "workspace.json").read_text())["path"] == str(moved)
