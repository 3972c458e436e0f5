"""m003_sweep: a registry made before sweeps gets runs.sweep and its index, and keeps its rows.

Written against the registry helpers of conftest, so it runs on SQLite and, with `pytest
--postgres` (or tests/registry/test_postgres.py's rerun), on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from conftest import registry_execute, registry_indexes, registry_rows

from expctl.registry import migrations
from expctl.registry.migrations import open_registry
from expctl.workspace import Workspace


def test_a_registry_from_before_sweeps_gets_the_sweep_column(workspace: Path) -> None:
    ws = Workspace(workspace)
    open_registry(ws).close()
    registry_execute(  # the shape m001 gave before sweeps existed
        workspace,
        "DROP INDEX ix_runs_sweep_created",
        "ALTER TABLE runs DROP COLUMN sweep",
        "DELETE FROM expctl_migrations WHERE name = 'm003_sweep'",
        "INSERT INTO runs (workspace, id, status, created, created_ts, imported, git_dirty,"
        " indexed_at) VALUES ('w', 'old', 'finished', 'x', 0, FALSE, FALSE, 'x')")
    assert "ix_runs_sweep_created" not in registry_indexes(workspace)
    with open_registry(ws) as db:
        assert migrations.pending_migrations(db) == []
    assert registry_rows(workspace, "SELECT id, sweep FROM runs") == [("old", None)]
    assert "ix_runs_sweep_created" in registry_indexes(workspace)
    applied = [r[0] for r in registry_rows(workspace, "SELECT name FROM expctl_migrations")]
    assert applied.count("m003_sweep") == 1
