"""m003_sweep: a registry made before sweeps gets runs.sweep and its index, and keeps its rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from expctl.registry import migrations
from expctl.registry.migrations import open_registry
from expctl.workspace import Workspace


@pytest.mark.sqlite_only
def test_a_registry_from_before_sweeps_gets_the_sweep_column(workspace: Path) -> None:
    ws = Workspace(workspace)
    open_registry(ws).close()
    path = workspace / "registry.db"
    with sqlite3.connect(path) as conn:  # the shape m001 gave before sweeps existed
        conn.execute("DROP INDEX ix_runs_sweep_created")
        conn.execute("ALTER TABLE runs DROP COLUMN sweep")
        conn.execute("DELETE FROM expctl_migrations WHERE name = 'm003_sweep'")
        conn.execute("INSERT INTO runs (workspace, id, status, created, created_ts, imported,"
                     " git_dirty, indexed_at) VALUES ('w', 'old', 'finished', 'x', 0, 0, 0, 'x')")
    with open_registry(ws) as db:
        assert migrations.pending_migrations(db) == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT id, sweep FROM runs").fetchall() == [("old", None)]
        names = {r[1] for r in conn.execute("PRAGMA index_list(runs)")}
    assert "ix_runs_sweep_created" in names
