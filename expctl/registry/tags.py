"""Reading the tags table: the tags of the runs a table shows. Standard library only."""

from __future__ import annotations

from collections.abc import Sequence

from expctl.registry.db import Database

ID_CHUNK = 500  # SQLite binds at most 32,766 parameters per statement


def any_tags(db: Database) -> bool:
    """Whether any run of this workspace has a tag: one index probe, so untagged workspaces
    pay nothing more."""
    return bool(db.query("SELECT 1 FROM tags WHERE workspace = :key LIMIT 1", {"key": db.key}))


def tags_for(db: Database, run_ids: Sequence[str]) -> dict[str, list[str]]:
    """{run id: its tags, sorted} for this workspace's runs that have any."""
    found: dict[str, list[str]] = {}
    if not run_ids or not any_tags(db):
        return found
    for start in range(0, len(run_ids), ID_CHUNK):
        ids = {f"i{n}": v for n, v in enumerate(run_ids[start:start + ID_CHUNK])}
        sql = ("SELECT run_id, tag FROM tags WHERE workspace = :key AND run_id IN "
               f"({', '.join(':' + k for k in ids)}) ORDER BY run_id, tag")
        for run_id, tag in db.query(sql, {**ids, "key": db.key}):
            found.setdefault(run_id, []).append(tag)
    return found
