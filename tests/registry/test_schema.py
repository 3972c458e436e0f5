"""The registry's schema: created and migrated on open, refused when corrupt/foreign/newer,
rebuilt by reindex without a half-built index ever being visible."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import (
    registry_execute,
    registry_indexes,
    registry_rows,
    registry_tables,
    registry_url_of,
    remove_registry,
)

from expctl.errors import ExitCode, RegistryError
from expctl.registry import index_runs, migrations, open_registry, reindex
from expctl.registry.index import ReindexResult
from expctl.workspace import Workspace


@contextmanager
def db_conn(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection, committed and closed at the end (sqlite3's own context manager
    only commits, leaving the WAL file behind)."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def tables(path: Path) -> set[str]:
    """The tables of registry.db's workspace (in PostgreSQL with --postgres)."""
    return registry_tables(path.parent)


def applied(path: Path) -> list[str]:
    sql = "SELECT name FROM expctl_migrations ORDER BY name"
    return [r[0] for r in registry_rows(path.parent, sql)]


def test_open_creates_schema_in_wal_mode(workspace: Path) -> None:
    ws = Workspace(workspace)
    with open_registry(ws) as db:
        assert db.fresh
        assert db.dialect != "sqlite" or db.journal_mode() == "wal"
    db_path = workspace / "registry.db"
    assert {"runs", "params", "metrics", "expctl_migrations"} <= tables(db_path)
    assert applied(db_path) == migrations.KNOWN
    with open_registry(ws) as again:  # a second open migrates nothing and is not fresh
        assert not again.fresh
        assert migrations.pending_migrations(again) == []
    assert applied(db_path) == migrations.KNOWN


def test_indexes_exist_for_ls_and_leaderboard(workspace: Path) -> None:
    open_registry(Workspace(workspace)).close()
    names = registry_indexes(workspace)
    assert {"ix_runs_created", "ix_runs_status_created", "ix_runs_recipe_created",
            "ix_metrics_name_value", "ix_params_name_num", "ix_params_name_text"} <= names


def test_a_failing_migration_leaves_no_trace(workspace: Path, monkeypatch) -> None:
    """Each migration runs in one transaction with its record: DDL included."""
    ws = Workspace(workspace)
    open_registry(ws).close()
    known = list(migrations.KNOWN)

    def m002_broken(conn) -> None:
        from sqlalchemy import text

        conn.execute(text("CREATE TABLE half_done (x INTEGER)"))
        raise RuntimeError("disk on fire")

    known = list(migrations.KNOWN)
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, m002_broken])
    monkeypatch.setattr(migrations, "KNOWN", [*migrations.KNOWN, "m002_broken"])
    with pytest.raises(RegistryError, match="disk on fire"):
        open_registry(ws)
    db_path = workspace / "registry.db"
    assert "half_done" not in tables(db_path)
    assert applied(db_path) == known


def test_newer_schema_is_refused(workspace: Path) -> None:
    ws = Workspace(workspace)
    open_registry(ws).close()
    registry_execute(workspace,
                     "INSERT INTO expctl_migrations VALUES ('m999_from_the_future', 'x')")
    with pytest.raises(RegistryError) as caught:
        open_registry(ws)
    assert "newer expctl" in caught.value.message
    assert "upgrade expctl" in caught.value.hint and "reindex" not in caught.value.hint
    assert caught.value.exit_code == ExitCode.REGISTRY


@pytest.mark.sqlite_only
def test_foreign_sqlite_file_is_refused_untouched(workspace: Path) -> None:
    db_path = workspace / "registry.db"
    with db_conn(db_path) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER, caption TEXT)")
        conn.execute("INSERT INTO photos VALUES (1, 'cat')")
    before = db_path.read_bytes()
    with pytest.raises(RegistryError) as caught:
        open_registry(Workspace(workspace))
    assert "not an expctl registry" in caught.value.message
    assert "photos" in caught.value.message
    assert "never changes" in caught.value.hint and "reindex" not in caught.value.hint
    assert db_path.read_bytes() == before
    assert not Path(f"{db_path}-wal").exists()


@pytest.mark.sqlite_only
def test_random_bytes_are_refused_untouched(workspace: Path) -> None:
    db_path = workspace / "registry.db"
    db_path.write_bytes(bytes(range(256)) * 64)
    before = db_path.read_bytes()
    with pytest.raises(RegistryError) as caught:
        open_registry(Workspace(workspace))
    assert "not an SQLite database" in caught.value.message
    assert "expctl reindex" in caught.value.hint
    assert db_path.read_bytes() == before


@pytest.mark.sqlite_only
@pytest.mark.parametrize("damage", ["random", "foreign", "newer"])
def test_cli_reports_a_broken_registry_and_reindex_repairs_it(workspace: Path, cli,
                                                             snapshot, damage: str) -> None:
    """Random bytes in registry.db: reindex keeps them aside and rebuilds. Foreign tables or
    a newer schema: refused by every command, reindex included, and never touched."""
    code, _, err = cli("import", str(_jsonl(workspace)))
    assert code == 0, err
    db_path = workspace / "registry.db"
    if damage == "random":
        for suffix in ("-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        db_path.write_bytes(b"\x00garbage" * 1000)
    elif damage == "foreign":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        with db_conn(db_path) as conn:
            conn.execute("CREATE TABLE other (x)")
    else:
        with db_conn(db_path) as conn:
            conn.execute("INSERT INTO expctl_migrations VALUES ('m999_future', 'x')")
    before = snapshot(workspace)
    for args in (["ls"], ["leaderboard", "--metric", "small_map"], ["record", "a", "x=1"]):
        code, out, err = cli(*args)
        assert code == ExitCode.REGISTRY, (args, err)
        assert out == ""
        lines = err.strip().splitlines()
        assert lines[0].startswith("error: Registry") or lines[0].startswith("error: `")
        assert ("expctl reindex" in lines[-1]) == (damage == "random")
        assert len(lines) == 2 and "Traceback" not in err
    assert snapshot(workspace) == before
    code, _, err = cli("reindex")
    if damage != "random":
        assert code == ExitCode.REGISTRY and "reindex" not in err, err
        assert snapshot(workspace) == before
        return
    assert code == 0, err
    assert "indexed 2 runs" in err and "kept as" in err
    kept = [p for p in workspace.iterdir() if p.name.startswith("registry.db.unreadable-")]
    assert len(kept) == 1 and kept[0].read_bytes() == b"\x00garbage" * 1000
    code, out, err = cli("ls", "--format", "json")
    assert code == 0, err
    assert sorted(r["id"] for r in json.loads(out)["runs"]) == ["a", "b"]


def _jsonl(workspace: Path) -> Path:
    path = workspace.parent / "results.jsonl"
    path.write_text('{"id": "a", "metrics": {"small_map": 0.2}}\n'
                    '{"id": "b", "metrics": {"small_map": 0.3}}\n', encoding="utf-8")
    return path


def test_concurrent_first_opens_migrate_once(workspace: Path) -> None:
    """Several commands creating the registry at the same moment: one m001, no errors."""
    code = ("import sys, pathlib; from expctl.registry import open_registry; "
            "from expctl.workspace import Workspace; "
            "open_registry(Workspace(pathlib.Path(sys.argv[1]))).close()")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(workspace)],
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    assert applied(workspace / "registry.db") == migrations.KNOWN


def test_reindex_rebuilds_from_folders(workspace: Path, cli) -> None:
    assert cli("import", str(_jsonl(workspace)))[0] == 0
    from expctl.registry.scope import workspace_key

    key = workspace_key(Workspace(workspace))
    registry_execute(  # an index that drifted from the folders; another workspace's row
        workspace, "DELETE FROM metrics",
        "INSERT INTO runs (workspace, id, status, created, created_ts, imported, git_dirty,"
        f" indexed_at) VALUES ('{key}', 'ghost', 'created', 'x', 0, FALSE, FALSE, 'x')",
        "INSERT INTO runs (workspace, id, status, created, created_ts, imported, git_dirty,"
        " indexed_at) VALUES ('elsewhere', 'a', 'created', 'x', 0, FALSE, FALSE, 'x')")
    result = reindex(Workspace(workspace))
    assert isinstance(result, ReindexResult)
    assert (result.runs, result.metrics, result.skipped) == (2, 2, [])
    assert sorted(registry_rows(workspace, "SELECT workspace, id FROM runs")) == \
        sorted([(key, "a"), (key, "b"), ("elsewhere", "a")])
    registry_execute(workspace, "DELETE FROM runs WHERE workspace = 'elsewhere'")
    assert registry_rows(workspace, "SELECT COUNT(*) FROM metrics")[0][0] == 2
    if not registry_url_of(workspace).startswith("sqlite"):
        return
    assert sorted(p.name for p in workspace.iterdir() if p.name.startswith("registry.db")) \
        in (["registry.db"], ["registry.db", "registry.db-shm", "registry.db-wal"])


def test_reindex_that_fails_midway_leaves_the_old_index(workspace: Path, cli,
                                                        monkeypatch) -> None:
    assert cli("import", str(_jsonl(workspace)))[0] == 0
    from expctl.registry import index
    from expctl.runs import load_run, write_results

    # A change by hand, so reindex has a row to rewrite (unchanged rows are left as they are).
    write_results(load_run(Workspace(workspace), "a"), {"small_map": 0.99})

    def crash(db, records, **_) -> None:
        db.executemany(index.UPSERT_RUN, [index._run_row(records[0], "x")])
        raise RuntimeError("power cut")

    monkeypatch.setattr(index, "write_records", crash)
    with pytest.raises(RuntimeError):
        reindex(Workspace(workspace))
    assert registry_rows(workspace, "SELECT COUNT(*) FROM runs")[0][0] == 2
    assert registry_rows(workspace, "SELECT COUNT(*) FROM metrics")[0][0] == 2
    leftovers = [p.name for p in workspace.iterdir() if "reindex" in p.name]
    assert leftovers == []


def test_reindex_is_seen_by_an_open_reader(workspace: Path, cli) -> None:
    """The rebuilt index is copied into the live file, so open connections see it."""
    assert cli("import", str(_jsonl(workspace)))[0] == 0
    from expctl.registry.db import connect

    reader = connect(registry_url_of(workspace))
    assert reader.query("SELECT COUNT(*) FROM runs")[0][0] == 2
    (workspace / "runs" / "b" / "run.yaml").unlink()  # b is no longer a run
    reindex(Workspace(workspace))
    assert [r[0] for r in reader.query("SELECT id FROM runs")] == ["a"]
    reader.close()


def test_reindex_skips_a_broken_folder_and_says_why(workspace: Path, cli) -> None:
    assert cli("import", str(_jsonl(workspace)))[0] == 0
    (workspace / "runs" / "b" / "run.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    code, _, err = cli("reindex")
    assert code == 0
    assert "skipped b:" in err and "run.yaml:" in err
    assert "indexed 1 runs" in err


def test_index_runs_on_a_new_registry_indexes_every_folder(workspace: Path, cli) -> None:
    assert cli("import", str(_jsonl(workspace)))[0] == 0
    remove_registry(workspace)
    assert index_runs(Workspace(workspace), ["a"]) == 2  # b too: the registry was new


def test_a_record_during_reindex_is_not_undone(workspace: Path, cli, monkeypatch) -> None:
    """A command that writes a run's files after reindex read them, and indexes them before
    reindex writes its rows, keeps its values: reindex indexes what changed since."""
    assert cli("import", str(_jsonl(workspace)))[0] == 0
    from expctl.registry import index
    from expctl.runs import load_run, write_results

    ws = Workspace(workspace)
    real_read_all = index._read_all

    def read_all_with_a_record_meanwhile(ws_):
        found = real_read_all(ws_)  # holds a's old value
        write_results(load_run(ws, "a"), {"small_map": 0.99})  # `expctl record a small_map=..`
        index_runs(ws, ["a"])
        return found

    monkeypatch.setattr(index, "_read_all", read_all_with_a_record_meanwhile)
    reindex(ws)
    rows = registry_rows(workspace, "SELECT value FROM metrics WHERE run_id = 'a'")
    assert rows == [(0.99,)]


def test_a_broken_folder_does_not_stop_a_new_registry(workspace: Path, cli) -> None:
    """The first command on a new registry indexes every folder, skipping broken ones."""
    assert cli("import", str(_jsonl(workspace)))[0] == 0
    (workspace / "runs" / "b" / "run.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    remove_registry(workspace)
    code, _, err = cli("new", "baseline_1k")
    assert code == 0, err
    ids = sorted(r[0] for r in registry_rows(workspace, "SELECT id FROM runs"))
    assert ids == ["a", "baseline_1k"]
