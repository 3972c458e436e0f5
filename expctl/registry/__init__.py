"""The run registry: an index over run folders for fast listing and ranking.

    settings.py    the settings the read path needs, without pydantic
    db.py          which driver serves a URL (stdlib sqlite3, else SQLAlchemy), transactions
    schema.py      SQLModel tables (imported only to create or migrate)
    migrations.py  the versioned schema, checked and migrated on open
    scope.py       the workspace key every row carries (a shared registry holds many)
    freshness.py   noticing run folders changed behind expctl's back
    folders.py     a run folder -> the record stored about it
    index.py       writes: index_runs, reindex, refresh_statuses
    queries.py     reads: ls and leaderboard, in portable SQL

Importing this package loads only the standard library and expctl's light modules; SQLAlchemy
and SQLModel load when a schema must be created or migrated, or for non-SQLite URLs.
"""

from __future__ import annotations

from expctl.registry.index import ReindexResult, index_runs, refresh_statuses, reindex
from expctl.registry.migrations import open_registry

__all__ = ["ReindexResult", "index_runs", "open_registry", "refresh_statuses", "reindex"]
