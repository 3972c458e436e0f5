"""A versioned registry schema, migrated whenever the registry is opened.

The schema's version is the list of migrations applied to it, kept in the `expctl_migrations`
table. MIGRATIONS is append-only: never edit or reorder an entry, add a new one. Each pending
migration runs in one transaction together with the row that records it, so a crash leaves the
database either before or after the migration.

Checking is cheap (one query through the connection already open); SQLAlchemy and SQLModel are
imported only when something is pending.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from expctl.errors import RegistryError
from expctl.registry.db import (
    REINDEX_HINT,
    Database,
    SqliteDatabase,
    make_engine,
    safe_url,
    take_write_lock,
)

BOOKKEEPING_TABLE = "expctl_migrations"
FOREIGN_HINT = ("expctl never changes a database it did not create: point `registry:` in "
                "expctl.yaml (or EXPCTL_REGISTRY_URL) at a database of its own")


def m001_initial(conn) -> None:
    """Tables runs, params and metrics with the indexes ls and leaderboard use."""
    from expctl.registry.schema import create_index_tables

    create_index_tables(conn)


def m002_tags(conn) -> None:
    """Table tags: each run's tags (annotations.yaml), indexed by tag for `--tag` filters.
    Runs had no tags before it, so there is nothing to fill in."""
    from expctl.registry.schema import create_tags_table

    create_tags_table(conn)


def m003_sweep(conn) -> None:
    """runs.sweep (run.yaml's sweep id) with its index, for `ls/leaderboard --sweep`. A
    registry made by m001 from today's schema has both already."""
    from sqlalchemy import inspect, text

    inspector = inspect(conn)
    if "sweep" not in {c["name"] for c in inspector.get_columns("runs")}:
        conn.execute(text("ALTER TABLE runs ADD COLUMN sweep VARCHAR"))
    if "ix_runs_sweep_created" not in {i["name"] for i in inspector.get_indexes("runs")}:
        conn.execute(text("CREATE INDEX ix_runs_sweep_created ON runs (sweep, created_ts)"))


def m004_workspace_rows(conn) -> None:
    """Every row knows its workspace (a shared registry holds many) and its folder's mtime.

    The index tables are made again in the new shape (m001 already made it on a new
    registry): their rows cannot say which workspace they came from. Each workspace fills its
    rows again from its run folders on its next command (expctl.registry.index.open_index)."""
    from sqlalchemy import inspect

    from expctl.registry.schema import create_index_tables, drop_index_tables

    if "workspace" in {c["name"] for c in inspect(conn).get_columns("runs")}:
        return
    drop_index_tables(conn)
    create_index_tables(conn)


MIGRATIONS: list[Callable] = [
    m001_initial,
    m002_tags,
    m003_sweep,
    m004_workspace_rows,
]
KNOWN = [m.__name__ for m in MIGRATIONS]


def pending_migrations(db: Database) -> list[str]:
    """Names of migrations still to apply; raise RegistryError for a foreign or newer schema."""
    tables = db.table_names()
    if not tables:
        return list(KNOWN)
    if BOOKKEEPING_TABLE not in tables:
        shown = ", ".join(sorted(tables)[:5])
        raise RegistryError(
            f"`{_where(db)}` is not an expctl registry: it holds other tables ({shown}).",
            hint=FOREIGN_HINT,
        )
    applied = [r[0] for r in db.query(f"SELECT name FROM {BOOKKEEPING_TABLE}")]
    newer = [name for name in applied if name not in KNOWN]
    if newer:
        raise RegistryError(
            f"`{_where(db)}` was written by a newer expctl (schema {', '.join(newer)}).",
            hint="upgrade expctl: a newer one (a teammate's?) uses this registry, and expctl "
            "never replaces it",
        )
    return [name for name in KNOWN if name not in applied]


def migrate(db: Database) -> list[str]:
    """Apply the pending migrations in order; return the names applied by this call.

    Each runs in its own transaction, which on SQLite starts with BEGIN IMMEDIATE: concurrent
    openers queue on the write lock, and each re-reads the applied list under it, so a
    migration another process finished meanwhile is skipped rather than run twice."""
    if not pending_migrations(db):
        return []
    from sqlalchemy import insert

    from expctl.registry.schema import MigrationRow, create_bookkeeping

    engine = make_engine(db.url)
    done: list[str] = []
    try:
        for migration in MIGRATIONS:
            with engine.begin() as conn:
                take_write_lock(conn)  # PostgreSQL: concurrent openers migrate one at a time
                create_bookkeeping(conn)
                applied = {row[0] for row in conn.execute(MigrationRow.__table__.select())}
                if migration.__name__ in applied:
                    continue
                migration(conn)
                conn.execute(insert(MigrationRow.__table__).values(
                    name=migration.__name__,
                    applied=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                ))
                done.append(migration.__name__)
    except RegistryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any driver error becomes one line
        raise RegistryError(f"Could not migrate `{_where(db)}`: {str(exc).splitlines()[0]}",
                            hint=REINDEX_HINT) from None
    finally:
        engine.dispose()
    return done


def _where(db: Database) -> str:
    path = getattr(db, "path", None)
    return str(path) if path is not None else safe_url(db.url)


def open_registry(ws, url: str | None = None) -> Database:
    """The workspace's registry, created and migrated as needed (`db.fresh` when created now).

    Raises RegistryError for a file that is corrupt, foreign or from a newer expctl; nothing
    is written to such a file."""
    from expctl.registry.db import connect
    from expctl.registry.scope import workspace_key
    from expctl.registry.settings import registry_url

    db = connect(url or registry_url(ws))
    try:
        db.key, db.workspace_path = workspace_key(ws), str(ws.root.resolve())
        pending = pending_migrations(db)  # first, so a foreign file is refused untouched
        if isinstance(db, SqliteDatabase):
            db.use_wal()
        if pending:
            db.fresh = pending == KNOWN and not db.table_names()
            migrate(db)
    except BaseException:
        db.close()
        raise
    return db
