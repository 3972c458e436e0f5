"""The registry as last indexed, read without writing: what `ls` and the other readers list
when the disk holding an SQLite registry is full.

There SQLite can store no refreshed row and, for a file whose write-ahead log was checkpointed
away, cannot even open it normally (it must create the -wal and -shm files first). The readers
then get a ReadOnlyRegistry: the file read as it is (opened `immutable` when it has no log to
read), every write skipped, so the listing shows the rows as they were last indexed.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from expctl.diskspace import no_room_for
from expctl.registry.db import BUSY_TIMEOUT_S, Params, SqliteDatabase, describe_error, sqlite_path
from expctl.workspace import Workspace


class ReadOnlyRegistry(SqliteDatabase):
    """An SQLite registry whose writes are skipped: changes a reader would store to refresh
    the index (derived statuses, re-read folders) are left for a later command."""

    read_only = True

    def __init__(self, path: Path, url: str):
        self.path, self.url, self._in_transaction = path, url, False
        log = Path(f"{path}-wal")
        try:
            if log.exists() and log.stat().st_size:  # committed rows may still be in the log
                self.conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            else:  # nothing but the file itself to read: no -wal or -shm needed
                uri = f"{path.resolve().as_uri()}?immutable=1"
                self.conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise describe_error(exc, str(path)) from None

    def execute(self, sql: str, params: Params | None = None) -> None:
        pass  # a write: skipped (reads go through query)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        pass

    @contextmanager
    def transaction(self) -> Iterator[ReadOnlyRegistry]:
        yield self  # no write lock: nothing is written


def full_disk_registry(ws: Workspace) -> Path | None:
    """The workspace's SQLite registry file when the disk holding it is full, else None."""
    from expctl.registry.settings import registry_url

    path = sqlite_path(registry_url(ws))
    if path is None or not path.is_file():
        return None
    return path if no_room_for(path) else None


def open_read_only(ws: Workspace, path: Path) -> ReadOnlyRegistry:
    """The registry file `path` of workspace `ws` for reading only; raises RegistryError for
    one that is foreign, newer or older than this expctl (it cannot be migrated without
    writing), and for a workspace that has no key yet (it has no rows)."""
    from expctl.errors import RegistryError
    from expctl.registry.migrations import pending_migrations
    from expctl.registry.scope import KEY_FILE, workspace_key
    from expctl.registry.settings import registry_url

    db = ReadOnlyRegistry(path, registry_url(ws))
    try:
        if not os.path.isfile(ws.state_dir / KEY_FILE):
            raise RegistryError(f"The disk is full and `{path}` holds no runs of this workspace "
                                "yet.", hint="free some space, then run the command again")
        db.key, db.workspace_path = workspace_key(ws), str(ws.root.resolve())
        if pending_migrations(db):
            raise RegistryError(f"The disk is full and `{path}` needs an upgrade first.",
                                hint="free some space, then run the command again")
    except BaseException:
        db.close()
        raise
    return db
