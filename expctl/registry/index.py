"""Writing the registry: index some run folders, rebuild it from all of them, refresh statuses.

Run folders are read before a transaction opens, so the write lock is held only for the
inserts: one short transaction per command, whatever the number of runs.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from expctl.registry.db import BUSY_TIMEOUT_S, Database, SqliteDatabase, connect, sqlite_path
from expctl.registry.folders import RunRecord, read_record, run_folder_exists
from expctl.registry.migrations import migrate, open_registry
from expctl.registry.settings import registry_url
from expctl.workspace import Workspace

# States that change without expctl writing anything (the job runs on, or its session dies):
# `ls` and `leaderboard` derive these again from the files before they show them.
VOLATILE_STATES = ("queued", "blocked", "running", "lost")  # may change on their own
# Up to this many runs stored as `created`, `ls` looks for each one's launch.json; beyond it,
# it lists the launch lock files once instead.
STAT_AT_MOST = 100

_RUN_COLUMNS = ("id", "recipe", "status", "created", "created_ts", "imported", "steps",
                "primary_metric", "git_sha", "git_branch", "git_dirty", "launcher", "session",
                "sweep", "indexed_at")
_METRIC_COLUMNS = ("run_id", "name", "value", "last", "last_step", "min", "min_step", "max",
                   "max_step", "count")

UPSERT_RUN = (
    f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _RUN_COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RUN_COLUMNS if c != "id")
)
INSERT_PARAM = ("INSERT INTO params (run_id, name, value_text, value_num) "
                "VALUES (:run_id, :name, :value_text, :value_num)")
INSERT_TAG = "INSERT INTO tags (run_id, tag) VALUES (:run_id, :tag)"
INSERT_METRIC = (f"INSERT INTO metrics ({', '.join(_METRIC_COLUMNS)}) "
                 f"VALUES ({', '.join(':' + c for c in _METRIC_COLUMNS)})")


@dataclass
class ReindexResult:
    runs: int = 0
    params: int = 0
    metrics: int = 0
    skipped: list[str] = field(default_factory=list)  # "id: problem" for unreadable folders


def index_runs(ws: Workspace, run_ids: Iterable[str], db: Database | None = None) -> int:
    """Bring the registry's rows for these runs in line with their folders, in one transaction.

    A run whose folder is gone is removed. When the registry is new, every run folder is
    indexed, so a registry created by any command starts complete. `db`: an open registry
    (a command that checks the registry before it writes files passes it). Returns the
    number of runs written."""
    if db is None:
        with open_registry(ws) as opened:
            return index_runs(ws, run_ids, opened)
    if db.fresh:  # broken folders are skipped here; `expctl reindex` reports them
        records, gone = _read_all(ws)[1], []
    else:
        ids = list(dict.fromkeys(run_ids))
        present = [i for i in ids if run_folder_exists(ws.runs_dir, i)]
        records = [read_record(ws.runs_dir, i) for i in present]
        gone = sorted(set(ids) - set(present))
    with db.transaction():
        write_records(db, records)
        delete_runs(db, gone)
    db.fresh = False
    return len(records)


def open_index(ws: Workspace) -> tuple[Database, int]:
    """The registry for reading, and how many runs had to be indexed first: a registry that
    did not exist is filled from runs/ at once (it is only an index of the folders)."""
    db = open_registry(ws)
    try:
        rebuilt = index_runs(ws, [], db) if db.fresh and list_folder_ids(ws.runs_dir) else 0
    except BaseException:
        db.close()
        raise
    return db, rebuilt


def write_records(db: Database, records: Sequence[RunRecord]) -> None:
    """Upsert runs with their params and metrics (inside the caller's transaction)."""
    from expctl.registry.folders import param_value
    from expctl.rundir import now_iso

    if not records:
        return
    stamp = now_iso()
    widest = _widest_int(db)
    db.executemany(UPSERT_RUN, [_run_row(r, stamp, widest) for r in records])
    ids = [{"id": r.id} for r in records]
    db.executemany("DELETE FROM params WHERE run_id = :id", ids)
    db.executemany("DELETE FROM metrics WHERE run_id = :id", ids)
    db.executemany("DELETE FROM tags WHERE run_id = :id", ids)
    params = []
    for r in records:
        for key, value in r.params.items():
            text, number = param_value(value)
            params.append({"run_id": r.id, "name": key, "value_text": text, "value_num": number})
    db.executemany(INSERT_PARAM, params)
    db.executemany(INSERT_METRIC, [m for r in records for m in _metric_rows(r, widest)])
    db.executemany(INSERT_TAG, [{"run_id": r.id, "tag": t} for r in records for t in r.tags])


def delete_runs(db: Database, run_ids: Sequence[str]) -> None:
    ids = [{"id": i} for i in run_ids]
    for table, column in (("params", "run_id"), ("metrics", "run_id"), ("tags", "run_id"),
                          ("runs", "id")):
        db.executemany(f"DELETE FROM {table} WHERE {column} = :id", ids)


def reindex(ws: Workspace) -> ReindexResult:
    """Rebuild the registry from runs/ alone. Readers see the old index or the new, never half.

    SQLite: the new index is built in a temporary file beside registry.db and copied in with
    SQLite's backup API in one step (safe while others have the file open); a corrupt or
    foreign file that cannot be opened is replaced by renaming. Other databases: everything
    is deleted and re-inserted in one transaction."""
    url = registry_url(ws)
    path = sqlite_path(url)
    if path is not None:
        before = folder_signatures(ws.runs_dir)  # taken first: a later change shows as a change
        result, records = _read_all(ws)
        _rebuild_sqlite(path, records)
        # A command that wrote a run's files after they were read may have indexed them before
        # the copy replaced its rows: index every folder that changed since, from its files.
        after = folder_signatures(ws.runs_dir)
        changed = sorted(i for i in before.keys() | after.keys() if before.get(i) != after.get(i))
        if changed:
            index_runs(ws, changed)
        return result
    with connect(url) as db:
        migrate(db)
        with db.transaction():
            # Read under the write lock: a command that indexed a run before it was taken had
            # already written the run's files, so a concurrent `record` is never undone.
            result, records = _read_all(ws)
            for table in ("params", "metrics", "tags", "runs"):
                db.execute(f"DELETE FROM {table}")
            write_records(db, records)
    return result


def refresh_statuses(ws: Workspace, db: Database) -> int:
    """Derive again the status of runs whose stored status may have changed on its own
    (VOLATILE_STATES), and of runs stored as `created` that were launched (a job started by
    a command that could not index it); store the changes. Returns how many changed."""
    from expctl.launchers.jobfiles import launched_run_ids
    from expctl.rundir import LAUNCH_FILE

    marks = ", ".join(f":s{i}" for i in range(len(VOLATILE_STATES)))
    rows = db.query(f"SELECT id, status FROM runs WHERE status IN ({marks})",
                    {f"s{i}": s for i, s in enumerate(VOLATILE_STATES)})
    created = [r[0] for r in db.query("SELECT id FROM runs WHERE status = 'created'")]
    if len(created) > STAT_AT_MOST:  # many never-launched runs: one listing, not a stat each
        launched = launched_run_ids(ws.state_dir)
        created = [i for i in created if i in launched]
    rows += [(i, "created") for i in created
             if os.path.exists(os.path.join(ws.runs_dir, i, LAUNCH_FILE))]
    if not rows:
        return 0
    from expctl.errors import ExpctlError
    from expctl.registry.folders import run_status
    from expctl.runs import load_run

    changed = []
    for run_id, old in rows:
        try:
            new = run_status(load_run(ws, run_id))
        except ExpctlError:
            continue  # a folder gone or broken: `reindex` deals with it, ls shows the row
        if new != old:
            changed.append({"id": run_id, "status": new})
    if changed:
        with db.transaction():
            db.executemany("UPDATE runs SET status = :status WHERE id = :id", changed)
    return len(changed)


# The files a run's row is read from; a rewrite (always by rename) changes their signature.
SIGNATURE_FILES = ("run.yaml", "config.yaml", "experiment_results.json", "metrics.jsonl",
                   "launch.json", "annotations.yaml")


def folder_signatures(runs_dir: Path) -> dict[str, tuple]:
    """{run id: (mtime_ns, size) of each file a row is read from}: cheap stats only."""
    signatures = {}
    for run_id in list_folder_ids(runs_dir):
        parts = []
        for name in SIGNATURE_FILES:
            try:
                st = os.stat(runs_dir / run_id / name)
                parts.append((st.st_mtime_ns, st.st_size, st.st_ino))
            except FileNotFoundError:
                parts.append(None)
        signatures[run_id] = tuple(parts)
    return signatures


def list_folder_ids(runs_dir: Path) -> list[str]:
    """Ids of the run folders (those with a run.yaml), sorted; standard library only."""
    if not runs_dir.is_dir():
        return []
    with os.scandir(runs_dir) as entries:
        return sorted(e.name for e in entries
                      if not e.name.startswith(".") and run_folder_exists(runs_dir, e.name))


# --- internals ---------------------------------------------------------------------------------


def _read_all(ws: Workspace) -> tuple[ReindexResult, list[RunRecord]]:
    from expctl.errors import ExpctlError

    result = ReindexResult()
    records = []
    for run_id in list_folder_ids(ws.runs_dir):
        try:
            records.append(read_record(ws.runs_dir, run_id))
        except ExpctlError as exc:
            result.skipped.append(f"{run_id}: {exc.message}")
    result.runs = len(records)
    result.params = sum(len(r.params) for r in records)
    result.metrics = sum(len(r.metrics) for r in records)
    return result, records


def _rebuild_sqlite(path: Path, records: Sequence[RunRecord]) -> None:
    tmp = path.with_name(f"{path.name}-reindex-{os.getpid()}")
    _remove_db_files(tmp)
    try:
        with SqliteDatabase(tmp) as new:
            new.use_wal()
            migrate(new)
            with new.transaction():
                write_records(new, records)
            new.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            if not _copy_into(new, path):
                new.close()
                _remove_db_files(path)
                os.replace(tmp, path)
    finally:
        _remove_db_files(tmp)


def _copy_into(source: SqliteDatabase, path: Path) -> bool:
    """Replace the contents of the database at `path` with `source`'s, in one step.

    False when `path` is missing or not an SQLite database (then it is replaced as a file)."""
    if not path.exists():
        return False
    try:
        target = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        target.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError:
        target.close()
        return False
    try:
        source.conn.backup(target)  # all pages in one step, under the target's write lock
    except sqlite3.Error:
        return False  # e.g. a foreign file with another page size: replaced as a file
    finally:
        target.close()
    return True


def _remove_db_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


SQLITE_WIDEST_INT = 2**63 - 1


def _widest_int(db: Database) -> int:
    """The largest value the integer columns hold: 64-bit in SQLite, while SQLAlchemy's
    Integer is 32-bit on PostgreSQL and the others."""
    return SQLITE_WIDEST_INT if db.dialect == "sqlite" else 2**31 - 1


def _int_or_none(value: int | None, widest: int) -> int | None:
    """A step count as stored: one beyond the column's range (a run id such as
    `base_99999999999999999999m`, a logged step of 10**30) is stored as unknown, since the
    driver would refuse the whole transaction, and then every later index, over it."""
    return value if value is None or -widest - 1 <= value <= widest else None


def _run_row(r: RunRecord, stamp: str, widest: int = SQLITE_WIDEST_INT) -> dict:
    return {
        "id": r.id, "recipe": r.recipe, "status": r.status, "created": r.created,
        "created_ts": r.created_ts, "imported": r.imported,
        "steps": _int_or_none(r.steps, widest),
        "primary_metric": r.primary_metric, "git_sha": r.git_sha, "git_branch": r.git_branch,
        "git_dirty": r.git_dirty, "launcher": r.launcher, "session": r.session, "sweep": r.sweep,
        "indexed_at": stamp,
    }


def _metric_rows(r: RunRecord, widest: int = SQLITE_WIDEST_INT) -> list[dict]:
    rows = []
    for name in dict.fromkeys([*r.metrics, *r.series]):
        s = r.series.get(name)
        row = {"run_id": r.id, "name": name, "value": r.metrics.get(name), "last": None,
               "last_step": None, "min": None, "min_step": None, "max": None, "max_step": None,
               "count": None}
        if s:
            row.update(last=s.last, min=s.min, max=s.max, count=s.count,
                       last_step=_int_or_none(s.last_step, widest),
                       min_step=_int_or_none(s.min_step, widest),
                       max_step=_int_or_none(s.max_step, widest))
        rows.append(row)
    return rows
