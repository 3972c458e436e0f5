"""The SQLAlchemy path (used for every non-SQLite URL, e.g. a team's PostgreSQL) runs the same
portable SQL as the standard-library path: checked here against SQLite through SQLAlchemy,
so the statements, bound parameters and transactions are exercised without a server."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_jsonl

from expctl.errors import RegistryError
from expctl.leaderboard import build_board
from expctl.phases.importer import import_runs
from expctl.registry import db as dbmod
from expctl.registry import index, migrations, queries
from expctl.registry.db import SqlAlchemyDatabase
from expctl.workspace import Workspace

ROWS = [
    {"id": "a", "metrics": {"map": 0.30, "loss": 1.0}, "params": {"lr": 0.01, "arch": "3s"}},
    {"id": "b", "metrics": {"map": 0.35, "loss": 0.8}, "params": {"lr": 0.001, "arch": "4s"}},
    {"id": "c", "metrics": {"map": 0.35}, "params": {"lr": "0.01", "arch": "3s"}},
    {"id": "d", "metrics": {"loss": 0.5}, "params": {"lr": 0.01, "arch": "4s"}},
]


@pytest.fixture
def via_sqlalchemy(workspace: Path, monkeypatch) -> Workspace:
    """Every registry connection goes through SQLAlchemy, as for a PostgreSQL URL."""
    monkeypatch.setattr(dbmod, "connect", lambda url: SqlAlchemyDatabase(url))
    monkeypatch.setattr(index, "sqlite_path", lambda url: None)  # reindex: delete + insert
    ws = Workspace(workspace)
    import_runs(ws, write_jsonl(workspace.parent / "r.jsonl", ROWS))
    return ws


def test_schema_and_writes_through_sqlalchemy(via_sqlalchemy: Workspace) -> None:
    with migrations.open_registry(via_sqlalchemy) as db:
        assert isinstance(db, SqlAlchemyDatabase)
        assert migrations.pending_migrations(db) == []
        assert {"runs", "params", "metrics", "expctl_migrations"} <= db.table_names()
        rows, total = queries.list_runs(db, limit=2)
        assert total == 4 and len(rows) == 2
        assert db.query("SELECT value_text, value_num FROM params WHERE run_id = :id"
                        " AND name = :n", {"id": "c", "n": "lr"}) == [("0.01", None)]


def test_leaderboard_through_sqlalchemy(via_sqlalchemy: Workspace) -> None:
    with migrations.open_registry(via_sqlalchemy) as db:
        board = build_board(via_sqlalchemy, db, "map", "a", 0,
                            [queries.parse_where("lr=0.01")])
        # c stores lr as the text "0.01": equal as text, so it matches too
        assert [(r.rank, r.id, r.missing) for r in board.rows] == \
            [(1, "c", False), (2, "a", False), (None, "d", True)]
        assert board.rows[0].delta == pytest.approx(0.05)
        board = build_board(via_sqlalchemy, db, "map", None, 0,
                            [queries.parse_where("lr=0.010")])
        # numerically equal to a's and d's 0.01; not to c's text "0.01"
        assert [r.id for r in board.rows] == ["a", "d"]
        board = build_board(via_sqlalchemy, db, "loss", None, 2, [])
        assert [(r.rank, r.id) for r in board.rows] == [(1, "d"), (2, "b")]
        assert board.hidden == 2


def test_reindex_through_sqlalchemy(via_sqlalchemy: Workspace) -> None:
    with migrations.open_registry(via_sqlalchemy) as db:
        db_rows = db.query("SELECT COUNT(*) FROM params")
    result = index.reindex(via_sqlalchemy)
    assert (result.runs, result.metrics) == (4, 6)
    with migrations.open_registry(via_sqlalchemy) as db:
        assert db.query("SELECT COUNT(*) FROM params") == db_rows
        assert db.query("SELECT COUNT(*) FROM runs") == [(4,)]


def test_a_failed_transaction_rolls_back(via_sqlalchemy: Workspace) -> None:
    with migrations.open_registry(via_sqlalchemy) as db:
        with pytest.raises(RuntimeError), db.transaction():
            db.execute("DELETE FROM metrics")
            raise RuntimeError("interrupted")
        assert db.query("SELECT COUNT(*) FROM metrics") == [(6,)]


def test_driver_errors_become_registry_errors(via_sqlalchemy: Workspace) -> None:
    with migrations.open_registry(via_sqlalchemy) as db:
        with pytest.raises(RegistryError, match="no such table|does not exist"):  # SQLite, PG
            db.query("SELECT * FROM nowhere")


def test_password_is_not_shown_in_messages() -> None:
    assert dbmod.safe_url("postgresql://me:secret@db.lab/expctl") == \
        "postgresql://me:***@db.lab/expctl"
    assert dbmod.sqlite_path("postgresql://me@db/x") is None
    assert dbmod.sqlite_path("sqlite:////abs/registry.db") == Path("/abs/registry.db")
    assert dbmod.sqlite_path("sqlite+pysqlite:///rel.db") == Path("rel.db")
