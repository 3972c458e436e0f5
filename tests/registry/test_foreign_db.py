"""A registry URL naming another program's SQLite database: every command refuses it, the
file keeps every byte, and no message recommends a command that would change it."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from conftest import write_jsonl

from expctl.errors import ExitCode

pytestmark = pytest.mark.sqlite_only


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _foreign_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, caption TEXT)")
        conn.executemany("INSERT INTO photos VALUES (?, ?)", [(1, "cat"), (2, "dog")])
    conn.close()


@pytest.mark.parametrize("where", ["own_registry_db", "elsewhere", "random_bytes_elsewhere"])
def test_a_foreign_file_survives_every_command(workspace: Path, cli, where: str) -> None:
    scratch = f"sqlite:///{workspace.parent / 'scratch.db'}"
    assert cli("new", "baseline_1k", env={"EXPCTL_REGISTRY_URL": scratch})[0] == 0
    if where == "own_registry_db":
        target = workspace / "registry.db"
    else:
        target = workspace.parent / "other_app" / "app.db"
        target.parent.mkdir()
        settings = workspace / "expctl.yaml"
        settings.write_text(settings.read_text() + f"\nregistry: sqlite:///{target}\n")
    if where == "random_bytes_elsewhere":
        target.write_bytes(bytes(range(256)) * 64)
    else:
        _foreign_db(target)
    before = _digest(target)
    results = write_jsonl(workspace.parent / "r.jsonl", [{"id": "a", "metrics": {"map": 1.0}}])
    commands = [["ls"], ["ls", "--all-workspaces"], ["leaderboard", "--metric", "map"],
                ["reindex"], ["import", str(results)], ["new", "baseline_2k"],
                ["record", "baseline_1k", "map=0.5"], ["reindex"]]
    for args in commands:
        code, out, err = cli(*args)
        assert code == ExitCode.REGISTRY, (args, err)
        assert err.count("\n") <= 2 and "Traceback" not in err, (args, err)
        if where != "random_bytes_elsewhere":  # other tables: never "run reindex"
            assert "reindex" not in err and "photos" in err, (args, err)
        assert _digest(target) == before, args
        assert not [p for p in target.parent.iterdir() if p.name.startswith(target.name + ".")]
    assert not (workspace / "runs" / "baseline_2k").exists()  # a refused `new` leaves nothing
    assert not (workspace / "runs" / "a").exists()  # nor a refused import
    if where != "random_bytes_elsewhere":
        conn = sqlite3.connect(target)
        assert conn.execute("SELECT caption FROM photos ORDER BY id").fetchall() == [("cat",),
                                                                                   ("dog",)]
        conn.close()
