"""Noticing run folders changed behind expctl's back (edited by hand, pulled by git).

Every row records its folder's mtime from when the folder was read. Two checks, both cheap:
- when runs/ itself changed since the last look (its mtime, kept in .expctl/runs-indexed:
  a folder was added, removed or renamed), `ls` and `leaderboard` list it (names only, no
  stat) against the indexed ids, so a folder that appeared (pulled, copied in) is indexed and
  one that vanished is dropped;
- `ls` and `leaderboard` stat the folders of the rows they are about to show: adding,
  removing or replacing a file by rename (as git, `cp`, most editors and expctl write) changes
  the folder's mtime, and such a row is read again before it is shown.
A file rewritten in place (no rename), or a changed run that is not shown, is seen by the next
`expctl reindex`. Stating every folder on every `ls` would cost more than its budget allows.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from expctl.registry.db import Database
from expctl.workspace import Workspace


def folder_stamp(path: Path) -> int | None:
    """The run folder's mtime (ns); None when it cannot be read."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def changed_folders(ws: Workspace, db: Database, shown: Sequence[str] | None = ()
                    ) -> tuple[list[str], list[str], str | None]:
    """(ids to read again: folders new since indexed, or among `shown` (None: every run
    indexed) with another mtime; ids indexed whose folder is gone; the mark to store with
    `mark_in_step` once they are indexed, None when runs/ was not listed)."""
    try:
        runs_mtime = os.stat(ws.runs_dir).st_mtime_ns  # before listing: a later change shows
    except FileNotFoundError:
        runs_mtime = None
    mark = f"{db.key} {_url_digest(db.url)} {runs_mtime}"
    runs = str(ws.runs_dir)
    if _read_mark(ws) == mark:  # no folder added or removed since the last full look
        indexed = _indexed(db, shown)
        changed = [i for i in (indexed if shown is None else dict.fromkeys(shown))
                   if i in indexed and _stamp(runs, i) != indexed[i]]
        return sorted(changed), [], None
    indexed = _indexed(db, None)
    names: set[str] = set()
    if runs_mtime is not None:
        with os.scandir(ws.runs_dir) as entries:
            names = {e.name for e in entries if not e.name.startswith(".") and e.is_dir()}
    # A folder without run.yaml is not a run (yet): neither indexed nor a change.
    new = [i for i in names if i not in indexed
           and os.path.isfile(os.path.join(ws.runs_dir, i, "run.yaml"))]
    changed = [i for i in (indexed if shown is None else dict.fromkeys(shown))
               if i in indexed and i in names and _stamp(runs, i) != indexed[i]]
    gone = [i for i in indexed if i not in names]
    return sorted(new + changed), sorted(gone), mark


def _stamp(runs_dir: str, run_id: str) -> int | None:
    """folder_stamp of runs/<run_id> without building a Path: ls stats every folder shown."""
    try:
        return os.stat(os.path.join(runs_dir, run_id)).st_mtime_ns
    except OSError:
        return None


def mark_in_step(ws: Workspace, mark: str) -> None:
    """Remember that the index held every folder of runs/ as it was at `mark`: until runs/
    changes (a folder added, removed or renamed), `ls` need not list it again."""
    try:
        path = ws.state_dir / MARK_FILE
        tmp = path.with_name(f".{MARK_FILE}.{os.getpid()}.tmp")
        tmp.write_text(mark + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # only a shortcut: without it the next command lists runs/ again


MARK_FILE = "runs-indexed"  # in .expctl/: machine-local, like the workspace key


def _read_mark(ws: Workspace) -> str | None:
    try:
        return (ws.state_dir / MARK_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _url_digest(url: str) -> str:
    import hashlib

    return hashlib.sha256(url.encode()).hexdigest()[:16]  # never the URL: it may hold a password


def _indexed(db: Database, ids: Sequence[str] | None) -> dict[str, int | None]:
    """{id: folder mtime as indexed} of this workspace's runs (of `ids` when given)."""
    if ids is None or len(ids) > 500:
        return dict(db.query("SELECT id, folder_mtime_ns FROM runs WHERE workspace = :key",
                             {"key": db.key}))
    if not ids:
        return {}
    marks = {f"i{n}": v for n, v in enumerate(ids)}
    sql = (f"SELECT id, folder_mtime_ns FROM runs WHERE workspace = :key AND id IN "
           f"({', '.join(':' + k for k in marks)})")
    return dict(db.query(sql, {"key": db.key, **marks}))
