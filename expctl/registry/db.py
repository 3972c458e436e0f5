"""Opening the registry: which driver serves a URL, and one short transaction per command.

SQLite URLs go through the standard library's sqlite3: importing SQLAlchemy alone costs
a large part of what `expctl ls` may take. Every other URL goes through SQLAlchemy Core with
`text()` statements. Statements are written once, in portable SQL with named parameters
(`:name`), which both drivers bind; values are never formatted into SQL text.

SQLite is opened in WAL mode (readers never wait for the writer) with a 30 s busy timeout, and
write transactions start with BEGIN IMMEDIATE: they take the write lock up front, so two
writers queue on the busy timeout instead of failing with "database is locked" when a read
lock cannot be upgraded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from expctl.diskspace import disk_full_error, is_disk_full, no_room_for
from expctl.errors import ExpctlError, RegistryError

BUSY_TIMEOUT_S = 30.0
STREAM_CHUNK = 1000  # rows fetched at a time by Database.stream
# PostgreSQL: writers (and migrations) take this transaction-scoped advisory lock first, so
# they queue one after another like SQLite writers behind BEGIN IMMEDIATE. Readers never wait.
WRITE_LOCK_KEY = 0x6578_7063  # "expc"
REINDEX_HINT = "run `expctl reindex` to rebuild it from runs/ (the run folders are the truth)"
# For a file that is not a database at all: reindex keeps the workspace's own registry.db aside
# and rebuilds it, and refuses any other file (it may be another program's).
UNREADABLE_HINT = ("if it is this workspace's registry.db, `expctl reindex` keeps it aside and "
                   "rebuilds the index from runs/; otherwise point `registry:` at another file")

Params = dict[str, Any]


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (`sqlite:///rel`, `sqlite:////abs`), None for other URLs."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0] != "sqlite":
        return None
    path = rest[1:].split("?")[0] if rest.startswith("/") else rest.split("?")[0]
    if not path or path == ":memory:":
        raise RegistryError(f"Registry URL `{url}` names no file.",
                            hint="use sqlite:///path/to/registry.db")
    return Path(path)


class Database:
    """One registry connection. Reads run on their own; writes go inside `transaction()`."""

    url: str
    dialect: str
    fresh: bool = False  # set by open_registry: the schema was created by this open
    # Set by open_registry: this workspace's key and folder (expctl.registry.scope). Writes
    # carry them; reads see only this workspace's rows unless `all_workspaces` is set.
    key: str = ""
    workspace_path: str | None = None
    all_workspaces: bool = False

    @property
    def scope(self) -> str | None:
        """The workspace key reads are limited to; None across all workspaces."""
        return None if self.all_workspaces else self.key

    def query(self, sql: str, params: Params | None = None) -> list[tuple]:
        raise NotImplementedError

    def stream(self, sql: str, params: Params | None = None,
               chunk: int = STREAM_CHUNK) -> Iterator[tuple]:
        """The rows of a query as they come, fetched `chunk` at a time (never all at once)."""
        raise NotImplementedError

    def execute(self, sql: str, params: Params | None = None) -> None:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        raise NotImplementedError

    def transaction(self):
        raise NotImplementedError

    def table_names(self) -> set[str]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SqliteDatabase(Database):
    """A registry file served by the standard library's sqlite3."""

    dialect = "sqlite"

    def __init__(self, path: Path, url: str | None = None):
        self.path = path
        self.url = url or f"sqlite:///{path}"
        self._in_transaction = False
        try:
            # isolation_level=None: sqlite3 leaves BEGIN/COMMIT to us (see transaction()).
            self.conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self.conn.execute("PRAGMA synchronous=NORMAL")  # durable enough with WAL, faster
        except sqlite3.Error as exc:
            raise describe_error(exc, str(self.path)) from None

    def query(self, sql: str, params: Params | None = None) -> list[tuple]:
        with self._errors():
            return self.conn.execute(sql, params or {}).fetchall()

    def stream(self, sql: str, params: Params | None = None,
               chunk: int = STREAM_CHUNK) -> Iterator[tuple]:
        with self._errors():
            cursor = self.conn.execute(sql, params or {})
        try:
            while True:
                with self._errors():
                    rows = cursor.fetchmany(chunk)
                if not rows:
                    return
                yield from rows
        finally:
            with suppress(sqlite3.Error):  # closed already when the reader stopped early
                cursor.close()

    def execute(self, sql: str, params: Params | None = None) -> None:
        with self._errors():
            self.conn.execute(sql, params or {})

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if rows:
            with self._errors():
                self.conn.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[SqliteDatabase]:
        """One write transaction holding the write lock from its first statement."""
        with self._errors():
            self.conn.execute("BEGIN IMMEDIATE")
        self._in_transaction = True
        try:
            yield self
        except BaseException:
            self.conn.rollback()
            raise
        else:
            with self._errors():
                self.conn.execute("COMMIT")
        finally:
            self._in_transaction = False

    def table_names(self) -> set[str]:
        rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in rows if not r[0].startswith("sqlite_")}

    def journal_mode(self) -> str:
        return str(self.query("PRAGMA journal_mode")[0][0]).lower()

    def use_wal(self) -> None:
        """Switch the file to WAL (persistent: recorded in the file itself)."""
        if self.journal_mode() != "wal":
            self.execute("PRAGMA journal_mode=WAL")

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise describe_error(exc, str(self.path)) from None


class SqlAlchemyDatabase(Database):
    """A registry behind any other SQLAlchemy URL (PostgreSQL for a shared team registry)."""

    def __init__(self, url: str):
        from sqlalchemy.exc import SQLAlchemyError

        self.url = url
        self._error_types = (SQLAlchemyError,)
        try:
            self.engine = make_engine(url)
            self.dialect = self.engine.dialect.name
            self.conn = self.engine.connect()
        except Exception as exc:  # noqa: BLE001 - a malformed URL raises ValueError and others
            # Whatever the driver says may quote the URL (a password with an unencoded `@`).
            raise RegistryError(
                f"Registry `{safe_url(url)}`: {mask_secrets(_first_line(exc), url)}",
                hint="check the registry URL (special characters in a password are "
                "%-encoded: `@` is %40); put the password in ~/.pgpass or PGPASSWORD",
            ) from None
        self._in_transaction = False

    def query(self, sql: str, params: Params | None = None) -> list[tuple]:
        from sqlalchemy import text

        with self._errors():
            rows = [tuple(r) for r in self.conn.execute(text(sql), params or {})]
            if not self._in_transaction:
                self.conn.commit()  # end the implicit read transaction at once
            return rows

    def stream(self, sql: str, params: Params | None = None,
               chunk: int = STREAM_CHUNK) -> Iterator[tuple]:
        from sqlalchemy import text

        # stream_results: a server-side cursor where the driver has one (psycopg2), so the
        # rows are not all held by the driver either. Queries made meanwhile (a chunk's
        # extra columns) must not commit: that would close the cursor.
        owner = not self._in_transaction
        with self._errors():
            result = self.conn.execution_options(stream_results=True, yield_per=chunk).execute(
                text(sql), params or {})
        self._in_transaction = True
        try:
            while True:
                with self._errors():
                    rows = result.fetchmany(chunk)
                if not rows:
                    break
                for row in rows:
                    yield tuple(row)
        finally:
            result.close()
            if owner:
                self._in_transaction = False
                with self._errors():
                    self.conn.commit()  # end the implicit read transaction

    def execute(self, sql: str, params: Params | None = None) -> None:
        from sqlalchemy import text

        with self._errors():
            self.conn.execute(text(sql), params or {})

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        from sqlalchemy import text

        if rows:
            with self._errors():
                self.conn.execute(text(sql), list(rows))

    @contextmanager
    def transaction(self) -> Iterator[SqlAlchemyDatabase]:
        with self._errors():
            if self.conn.in_transaction():
                self.conn.commit()
            tx = self.conn.begin()
            take_write_lock(self.conn)
        self._in_transaction = True
        try:
            yield self
        except BaseException:
            tx.rollback()
            raise
        else:
            with self._errors():
                tx.commit()
        finally:
            self._in_transaction = False

    def table_names(self) -> set[str]:
        from sqlalchemy import inspect

        with self._errors():
            names = set(inspect(self.conn).get_table_names())
            self.conn.commit()
            return names

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            if isinstance(exc, getattr(self, "_error_types", ())):
                raise RegistryError(
                    f"Registry `{safe_url(self.url)}`: "
                    f"{mask_secrets(_first_line(exc), self.url)}"
                ) from None
            raise


def make_engine(url: str):
    """A SQLAlchemy engine; for SQLite, one whose transactions take the write lock at BEGIN.

    Python's sqlite3 (before 3.12's autocommit attribute) neither begins a transaction before
    DDL nor lets BEGIN IMMEDIATE through, so SQLAlchemy is told to emit BEGIN itself: the
    documented recipe in SQLAlchemy's SQLite dialect notes."""
    from sqlalchemy import create_engine, event

    if sqlite_path(url) is None:
        return create_engine(url)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def take_write_lock(conn) -> None:
    """On PostgreSQL, wait for the registry's write lock (held until this transaction ends);
    elsewhere nothing: SQLite's BEGIN IMMEDIATE already took the file's."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy import text

        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})


def connect(url: str) -> Database:
    """A connection for `url`, without any schema check (see expctl.registry.migrations)."""
    path = sqlite_path(url)
    if path is not None:
        return SqliteDatabase(path, url)
    return SqlAlchemyDatabase(url)


def describe_error(exc: sqlite3.Error, where: str) -> ExpctlError:
    """One line saying what is wrong with the registry file `where`, with the way out."""
    text = str(exc)
    if is_disk_full(exc) or ("disk I/O error" in text and no_room_for(Path(where))):
        # SQLite says "disk I/O error" when it cannot grow its -shm/-wal files: not damage.
        return disk_full_error(OSError(28, "No space left on device", where))
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
        return RegistryError(f"Registry `{where}` is not an SQLite database (corrupt or foreign).",
                             hint=UNREADABLE_HINT)
    if "malformed" in text or "corrupt" in text:
        return RegistryError(f"Registry `{where}` is corrupt: {text}.", hint=UNREADABLE_HINT)
    if "locked" in text or "busy" in text:
        return RegistryError(
            f"Registry `{where}` stayed locked for {BUSY_TIMEOUT_S:g} s by another process.",
            hint="retry when the other expctl command has finished",
        )
    if "no such table" in text or "no such column" in text:
        return RegistryError(f"Registry `{where}` does not have the expected tables: {text}.",
                             hint=REINDEX_HINT)
    return RegistryError(f"Registry `{where}`: {text}.")


def safe_url(url: str) -> str:
    """The URL without a password, for messages (also when the password holds a raw `@`)."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        creds, _, host = rest.rpartition("@")
        user = creds.split(":")[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def mask_secrets(text: str, url: str) -> str:
    """`text` with the URL's password, and every piece of it a parser may have split off at
    an unencoded `@`, replaced by ***."""
    _, sep, rest = url.partition("://")
    creds = rest.rpartition("@")[0] if sep else ""
    password = creds.partition(":")[2]
    if not password:
        return text.replace(url, safe_url(url))
    text = text.replace(url, safe_url(url))
    pieces = sorted({password, *password.split("@"), *password.split(":")}, key=len, reverse=True)
    from urllib.parse import quote, unquote

    for piece in pieces:
        for form in {piece, unquote(piece), quote(piece, safe="")}:
            if len(form) >= 3 or form == password:
                text = text.replace(form, "***")
    return text


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return (lines[0] if lines else "") or type(exc).__name__
