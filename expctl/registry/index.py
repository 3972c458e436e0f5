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

from expctl.registry.db import BUSY_TIMEOUT_S, Database, sqlite_path
from expctl.registry.folders import RunRecord, read_record, run_folder_exists
from expctl.registry.freshness import changed_folders, folder_stamp, mark_in_step
from expctl.registry.migrations import open_registry
from expctl.registry.settings import registry_url
from expctl.rundir import RUN_FILE
from expctl.workspace import Workspace

# States that change without expctl writing anything (the job runs on, or its session dies):
# `ls` and `leaderboard` derive these again from the files before they show them.
VOLATILE_STATES = ("queued", "blocked", "running", "lost")  # may change on their own
# Up to this many runs stored as `created`, `ls` looks for each one's launch.json; beyond it,
# it lists the launch lock files once instead.
STAT_AT_MOST = 100
# From this many run folders on, reindex parses them in worker processes, this many a chunk
# (EXPCTL_REINDEX_PARALLEL_AT sets the threshold, for tests of the parallel path).
PARALLEL_AT_LEAST = int(os.environ.get("EXPCTL_REINDEX_PARALLEL_AT") or 500)
PARALLEL_CHUNK = 250
REINDEX_CACHE_KIB = 128 * 1024  # SQLite page cache for reindex's one transaction (default 2 MB)

_RUN_COLUMNS = ("workspace", "id", "workspace_path", "recipe", "status", "created", "created_ts",
                "imported", "steps", "primary_metric", "git_sha", "git_branch", "git_dirty",
                "launcher", "session", "sweep", "indexed_at", "folder_mtime_ns")
_METRIC_COLUMNS = ("workspace", "run_id", "name", "value", "last", "last_step", "min",
                   "min_step", "max", "max_step", "count")

UPSERT_RUN = (
    f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _RUN_COLUMNS)}) "
    f"ON CONFLICT (workspace, id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RUN_COLUMNS if c not in ("workspace", "id"))
)
INSERT_PARAM = ("INSERT INTO params (workspace, run_id, name, value_text, value_num) "
                "VALUES (:workspace, :run_id, :name, :value_text, :value_num)")
INSERT_TAG = "INSERT INTO tags (workspace, run_id, tag) VALUES (:workspace, :run_id, :tag)"
INSERT_METRIC = (f"INSERT INTO metrics ({', '.join(_METRIC_COLUMNS)}) "
                 f"VALUES ({', '.join(':' + c for c in _METRIC_COLUMNS)})")


@dataclass
class ReindexResult:
    runs: int = 0
    params: int = 0
    metrics: int = 0
    skipped: list[str] = field(default_factory=list)  # "id: problem" for unreadable folders
    notes: list[str] = field(default_factory=list)  # what reindex did besides (a file set aside)
    # {run id: folder_signature taken just before the folder was read}, for reindex
    signatures: dict[str, tuple] = field(default_factory=dict, repr=False)


def index_runs(ws: Workspace, run_ids: Iterable[str], db: Database | None = None) -> int:
    """Bring this workspace's rows for these runs in line with their folders, in one
    transaction. The folders are read under the registry's write lock, so of two commands
    writing one run the one that indexes last read the newest files.

    A run whose folder is gone is removed. When the registry holds no row of this workspace
    yet, every run folder is indexed, so a registry created (or newly shared) by any command
    starts complete. `db`: an open registry (a command that checks the registry before it
    writes files passes it). Returns the number of runs written."""
    if db is None:
        with open_registry(ws) as opened:
            return index_runs(ws, run_ids, opened)
    written = fill_if_empty(ws, db)
    ids = list(dict.fromkeys(run_ids))
    with db.transaction():
        present = [i for i in ids if run_folder_exists(ws.runs_dir, i)]
        records = [read_record(ws.runs_dir, i) for i in present]
        write_records(db, records)
        delete_runs(db, sorted(set(ids) - set(present)))
    return len(written | set(present))


def fill_if_empty(ws: Workspace, db: Database) -> set[str]:
    """Index every run folder when the registry is new or holds none of this workspace's rows
    (so a registry created, or newly shared, by any command starts complete); returns the ids
    written. Broken folders are skipped here; `ls` and `reindex` report them."""
    if not db.fresh and has_own_rows(db):
        return set()
    # Read outside the lock (there may be many), so rows another command wrote meanwhile are
    # kept; the runs a command then indexes are read again under the lock.
    filled = _read_all(ws)[1]
    with db.transaction():
        write_records(db, filled, only_new=True)
    db.fresh = False
    return {r.id for r in filled}


def index_written(ws: Workspace, db: Database,
                  written: Sequence[tuple[RunRecord | str, tuple | None]]) -> None:
    """Index runs a command has just written, in one transaction, from the records it built
    with the folder_signature taken right after writing: a folder whose signature changed
    since (another command wrote it meanwhile), or given as a bare id, is read again from its
    folder under the write lock, as index_runs does."""
    if not written:
        return
    with db.transaction():
        records = []
        for record, signature in written:
            if isinstance(record, str) or folder_signature(ws.runs_dir / record.id) != signature:
                run_id = record if isinstance(record, str) else record.id
                records.append(read_record(ws.runs_dir, run_id))
            else:
                record.folder_mtime_ns = signature[0]
                records.append(record)
        write_records(db, records)


def has_own_rows(db: Database) -> bool:
    """Whether the registry holds any row of this workspace (one index lookup)."""
    return bool(db.query("SELECT 1 FROM runs WHERE workspace = :key LIMIT 1", {"key": db.key}))


@dataclass
class OpenedIndex:
    """What opening the index for reading had to do first."""

    rebuilt: int = 0  # runs indexed because the registry held none of this workspace's
    fresh: bool = False  # the registry itself was created by this open
    skipped: list[str] = field(default_factory=list)  # "path: problem" of unreadable folders


def open_index(ws: Workspace) -> tuple[Database, OpenedIndex]:
    """The registry for reading; filled from runs/ first when it holds none of this
    workspace's rows. (Callers then bring the rows they show in line with their folders:
    refresh_changed.)"""
    db = open_registry(ws)
    opened = OpenedIndex(fresh=db.fresh)
    try:
        if db.fresh or not has_own_rows(db):
            if list_folder_ids(ws.runs_dir):
                result, records = _read_all(ws)
                with db.transaction():
                    write_records(db, records, only_new=True)
                opened.rebuilt, opened.skipped = len(records), result.skipped
            db.fresh = False
    except BaseException:
        db.close()
        raise
    return db, opened


def refresh_changed(ws: Workspace, db: Database,
                    shown: Sequence[str] | None = ()) -> tuple[int, list[str]]:
    """Index folders new since indexed (and those of `shown` rows, None: of every row, that
    changed), drop rows
    of vanished ones (expctl.registry.freshness); returns how many rows changed and "id:
    problem" for folders that could not be read (their rows stay as they were; reported on
    every `ls` until fixed)."""
    from expctl.errors import ExpctlError

    changed, gone, mark = changed_folders(ws, db, shown)
    if not changed and not gone:
        if mark is not None:
            mark_in_step(ws, mark)
        return 0, []
    problems: list[str] = []
    records = []
    with db.transaction():  # read under the write lock, as index_runs does
        for run_id in changed:
            if not run_folder_exists(ws.runs_dir, run_id):
                gone.append(run_id)
                continue
            try:
                records.append(read_record(ws.runs_dir, run_id))
            except ExpctlError as exc:
                problems.append(problem_line(run_id, exc))
        write_records(db, records)
        delete_runs(db, gone)
    if mark is not None and not problems:  # a broken folder stays to be looked at again
        mark_in_step(ws, mark)
    return len(records) + len(gone), problems


def write_records(db: Database, records: Sequence[RunRecord], only_new: bool = False,
                  emptied: bool = False) -> None:
    """Upsert this workspace's runs with their params and metrics (inside the caller's
    transaction). `only_new`: leave runs that already have a row (a fill read before the
    lock must not undo what another command indexed meanwhile); `emptied`: the caller has
    just deleted every row of the workspace, so there are no old params to delete."""
    from expctl.rundir import now_iso

    if only_new and records:
        have = {r[0] for r in db.query("SELECT id FROM runs WHERE workspace = :key",
                                       {"key": db.key})}
        records = [r for r in records if r.id not in have]
    if not records:
        return
    stamp = now_iso()
    widest = _widest_int(db)
    key = db.key
    db.executemany(UPSERT_RUN, [_run_row(r, stamp, widest, key, db.workspace_path)
                                for r in records])
    if not emptied:
        ids = [{"key": key, "id": r.id} for r in records]
        db.executemany("DELETE FROM params WHERE workspace = :key AND run_id = :id", ids)
        db.executemany("DELETE FROM metrics WHERE workspace = :key AND run_id = :id", ids)
        db.executemany("DELETE FROM tags WHERE workspace = :key AND run_id = :id", ids)
    db.executemany(INSERT_PARAM, [row for r in records for row in _param_rows(r, key)])
    db.executemany(INSERT_METRIC, [m for r in records for m in _metric_rows(r, widest, key)])
    db.executemany(INSERT_TAG, [{"workspace": key, "run_id": r.id, "tag": t} for r in records
                                for t in r.tags])


def delete_runs(db: Database, run_ids: Sequence[str]) -> None:
    """Remove this workspace's rows of these runs (inside the caller's transaction)."""
    ids = [{"key": db.key, "id": i} for i in run_ids]
    for table, column in (("params", "run_id"), ("metrics", "run_id"), ("tags", "run_id"),
                          ("runs", "id")):
        db.executemany(f"DELETE FROM {table} WHERE workspace = :key AND {column} = :id", ids)


def reindex(ws: Workspace) -> ReindexResult:
    """Rebuild this workspace's rows from runs/ alone; other workspaces' rows stay. Readers
    see the old rows or the new, never half (one transaction).

    Never deletes what expctl did not create: a database with other tables, or a schema of a
    newer expctl, is refused (RegistryError, nothing written); an SQLite file too damaged to
    open, at the workspace's own registry.db, is renamed aside (kept) and a new one made in its
    place; elsewhere it is refused."""
    url = registry_url(ws)
    result = ReindexResult()
    path = sqlite_path(url)
    if path is not None and path.resolve() == (ws.root / "registry.db").resolve():
        kept = set_aside_unreadable(path)  # only the file expctl itself puts there
        if kept is not None:
            result.notes.append(f"`{path}` could not be read as a database; kept as `{kept}`")
    with open_registry(ws, url) as db:  # refuses a foreign or newer database, untouched
        read, records = _read_all(ws)
        before = read.signatures  # each taken before its folder was read: a later change shows
        if db.dialect == "sqlite":  # the index updates of 10**5 rows fit in memory: far faster
            db.execute(f"PRAGMA cache_size = -{REINDEX_CACHE_KIB}")
        with db.transaction():
            # Rows equal to what the folders say stay: rewriting 10**5 index entries costs
            # far more than comparing them.
            stored = _stored_rows(db)
            widest = _widest_int(db)
            delete_runs(db, sorted(stored.keys() - {r.id for r in records}))
            write_records(db, [r for r in records if stored.get(r.id) !=
                               _comparable(r, widest, db.key, db.workspace_path)])
        # A command that wrote a run's files after they were read may have indexed them
        # before this transaction replaced its rows: index every folder changed since.
        after = folder_signatures(ws.runs_dir)
        changed = sorted(i for i in before.keys() | after.keys() if before.get(i) != after.get(i))
        if changed:
            index_runs(ws, changed, db)
    read.notes = result.notes
    return read


def set_aside_unreadable(path: Path) -> Path | None:
    """Rename an SQLite file that is not a readable database to `<name>.unreadable-<time>`
    (with its -wal/-shm files) and return the new name; None when it is fine or absent."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error:
        conn = None
    if conn is not None:
        try:
            ok = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        except sqlite3.DatabaseError as exc:
            from expctl.diskspace import no_room_for

            # In use is not damaged, nor is a file SQLite cannot read for want of room for
            # its -shm file (a full disk says "disk I/O error").
            ok = "locked" in str(exc) or "busy" in str(exc) or no_room_for(path)
        finally:
            conn.close()
        if ok:
            return None
    from datetime import datetime

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    kept = path.with_name(f"{path.name}.unreadable-{stamp}-{os.getpid()}")
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, f"{kept}{suffix}")
    os.replace(path, kept)
    return kept


def refresh_statuses(ws: Workspace, db: Database, derived: dict | None = None) -> int:
    """Derive again the status of runs whose stored status may have changed on its own
    (VOLATILE_STATES), and of runs stored as `created` that were launched (a job started by
    a command that could not index it); store the changes. Returns how many changed.
    `derived`, when given, receives {run id: JobStatus} of each run derived here (without
    progress), so `ls` shows them without deriving them again.

    Derived from the job's files and the row's facts of run.yaml (expctl.state.IndexedRun):
    run.yaml itself is not parsed here; a folder changed by hand is read again by
    refresh_changed."""
    from expctl.launchers.jobfiles import launched_run_ids
    from expctl.rundir import LAUNCH_FILE

    marks = ", ".join(f":s{i}" for i in range(len(VOLATILE_STATES)))
    rows = db.query(f"SELECT id, status, steps, imported FROM runs WHERE workspace = :key"
                    f" AND status IN ({marks})",
                    {"key": db.key, **{f"s{i}": s for i, s in enumerate(VOLATILE_STATES)}})
    created = db.query("SELECT id, status, steps, imported FROM runs WHERE workspace = :key"
                       " AND status = 'created'", {"key": db.key})
    if len(created) > STAT_AT_MOST:  # many never-launched runs: one listing, not a stat each
        launched = launched_run_ids(ws.state_dir)
        created = [r for r in created if r[0] in launched]
    rows += [r for r in created if os.path.exists(os.path.join(ws.runs_dir, r[0], LAUNCH_FILE))]
    if not rows:
        return 0
    from expctl.errors import ExpctlError
    from expctl.state import indexed_run, run_status

    changed = []
    for run_id, old, steps, imported in rows:
        if not os.path.isfile(os.path.join(ws.runs_dir, run_id, RUN_FILE)):
            continue  # a folder gone: refresh_changed drops its row, ls shows it as it was
        try:
            status = run_status(indexed_run(ws.runs_dir, run_id, steps, bool(imported)))
        except ExpctlError:
            continue  # a broken job record: `status` names the file, ls shows the row
        if derived is not None:
            derived[run_id] = status
        if status.state != old:
            changed.append({"key": db.key, "id": run_id, "status": status.state})
    if changed:
        with db.transaction():
            db.executemany("UPDATE runs SET status = :status WHERE workspace = :key"
                           " AND id = :id", changed)
    return len(changed)


# The files a run's row is read from; a rewrite (always by rename) changes their signature.
SIGNATURE_FILES = ("run.yaml", "config.yaml", "experiment_results.json", "metrics.jsonl",
                   "launch.json", "annotations.yaml")


def folder_signatures(runs_dir: Path) -> dict[str, tuple]:
    """{run id: its folder_signature}: cheap stats only."""
    return {run_id: folder_signature(os.path.join(runs_dir, run_id))
            for run_id in list_folder_ids(runs_dir)}


def folder_signature(folder: Path | str) -> tuple:
    """(the folder's mtime, then (mtime_ns, size, inode) of each file a row is read from, None
    for a missing one): any rewrite by rename changes it."""
    parts: list = [folder_stamp(folder)]
    for name in SIGNATURE_FILES:
        try:
            st = os.stat(os.path.join(folder, name))
            parts.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except FileNotFoundError:
            parts.append(None)
    return tuple(parts)


def list_folder_ids(runs_dir: Path) -> list[str]:
    """Ids of the run folders (those with a run.yaml), sorted; standard library only."""
    if not runs_dir.is_dir():
        return []
    with os.scandir(runs_dir) as entries:
        return sorted(e.name for e in entries if not e.name.startswith(".")
                      and os.path.isfile(os.path.join(e.path, RUN_FILE)))


# --- internals ---------------------------------------------------------------------------------


def _read_all(ws: Workspace) -> tuple[ReindexResult, list[RunRecord]]:
    """Every run folder read (in worker processes when there are many), in id order; the
    result's `signatures` holds each folder's signature from just before it was read."""
    result = ReindexResult()
    records = []
    for run_id, signature, record, problem in read_folders(ws.runs_dir,
                                                           list_folder_ids(ws.runs_dir)):
        result.signatures[run_id] = signature
        if record is not None:
            records.append(record)
        else:
            result.skipped.append(problem)
    result.runs = len(records)
    result.params = sum(len(r.params) for r in records)
    result.metrics = sum(len(r.metrics) for r in records)
    return result, records


def read_folders(runs_dir: Path, run_ids: Sequence[str]) -> list[tuple]:
    """(id, signature, record or None, problem line or None) of each folder, in the order
    given. Beyond PARALLEL_AT_LEAST folders, chunks are parsed by worker processes (YAML
    parsing is the bulk of a reindex); they only read, the caller alone writes the registry."""
    if len(run_ids) < PARALLEL_AT_LEAST or (os.cpu_count() or 1) < 2:
        return _read_chunk(str(runs_dir), list(run_ids))
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    chunks = [list(run_ids[i:i + PARALLEL_CHUNK]) for i in range(0, len(run_ids), PARALLEL_CHUNK)]
    # fork: workers start with expctl imported (spawn would import it again in each one).
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    workers = min(os.cpu_count() or 1, len(chunks))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        parts = pool.map(partial(_read_chunk, str(runs_dir)), chunks)  # in the chunks' order
        return [row for part in parts for row in part]


def _read_chunk(runs_dir: str, run_ids: list[str]) -> list[tuple]:
    """read_folders' rows for some folders, read here (a worker process, or the caller)."""
    from expctl.errors import ExpctlError

    folder = Path(runs_dir)
    rows = []
    for run_id in run_ids:
        signature = folder_signature(os.path.join(runs_dir, run_id))
        try:
            rows.append((run_id, signature, read_record(folder, run_id), None))
        except ExpctlError as exc:
            rows.append((run_id, signature, None, problem_line(run_id, exc)))
    return rows


SQLITE_WIDEST_INT = 2**63 - 1


def problem_line(run_id: str, exc) -> str:
    """`id: message (hint)`: one line naming the file and the fix, for a skipped folder."""
    return f"{run_id}: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")


def _widest_int(db: Database) -> int:
    """The largest value the integer columns hold: 64-bit in SQLite, while SQLAlchemy's
    Integer is 32-bit on PostgreSQL and the others."""
    return SQLITE_WIDEST_INT if db.dialect == "sqlite" else 2**31 - 1


def _int_or_none(value: int | None, widest: int) -> int | None:
    """A step count as stored: one beyond the column's range (a run id such as
    `base_99999999999999999999m`, a logged step of 10**30) is stored as unknown, since the
    driver would refuse the whole transaction, and then every later index, over it."""
    return value if value is None or -widest - 1 <= value <= widest else None


def _run_row(r: RunRecord, stamp: str, widest: int = SQLITE_WIDEST_INT, key: str = "",
             workspace_path: str | None = None) -> dict:
    return {
        "workspace": key, "id": r.id, "workspace_path": workspace_path,
        "folder_mtime_ns": r.folder_mtime_ns, "recipe": r.recipe, "status": r.status,
        "created": r.created,
        "created_ts": r.created_ts, "imported": r.imported,
        "steps": _int_or_none(r.steps, widest),
        "primary_metric": r.primary_metric, "git_sha": r.git_sha, "git_branch": r.git_branch,
        "git_dirty": r.git_dirty, "launcher": r.launcher, "session": r.session, "sweep": r.sweep,
        "indexed_at": stamp,
    }


def _param_rows(r: RunRecord, key: str = "") -> list[dict]:
    from expctl.registry.folders import param_value

    rows = []
    for name, value in r.params.items():
        text, number = param_value(value)
        rows.append({"workspace": key, "run_id": r.id, "name": name, "value_text": text,
                     "value_num": number})
    return rows


_KEPT_RUN_COLUMNS = tuple(c for c in _RUN_COLUMNS if c not in ("workspace", "id", "indexed_at"))
_KEPT_METRIC_COLUMNS = _METRIC_COLUMNS[2:]


def _comparable(r: RunRecord, widest: int, key: str, workspace_path: str | None) -> tuple:
    """The rows write_records would store for this record, in _stored_rows' form."""
    run = _run_row(r, "", widest, key, workspace_path)
    return (tuple(run[c] for c in _KEPT_RUN_COLUMNS),
            frozenset((p["name"], p["value_text"], p["value_num"]) for p in _param_rows(r)),
            frozenset(tuple(m[c] for c in _KEPT_METRIC_COLUMNS)
                      for m in _metric_rows(r, widest, key)),
            frozenset(r.tags))


def _stored_rows(db: Database) -> dict[str, tuple]:
    """{run id: (run columns but when indexed, params, metrics, tags)} of this workspace's rows,
    as stored (read inside the caller's transaction)."""
    key = {"key": db.key}
    # PostgreSQL's streamed (server-side) cursor would refuse the transaction's later writes.
    rows = db.stream if db.dialect == "sqlite" else db.query
    runs = {row[0]: row[1:] for row in rows(
        f"SELECT id, {', '.join(_KEPT_RUN_COLUMNS)} FROM runs WHERE workspace = :key", key)}
    params: dict[str, set] = {i: set() for i in runs}
    for run_id, *row in rows("SELECT run_id, name, value_text, value_num FROM params"
                                  " WHERE workspace = :key", key):
        params.setdefault(run_id, set()).add(tuple(row))
    metrics: dict[str, set] = {i: set() for i in runs}
    for run_id, *row in rows(f"SELECT run_id, {', '.join(_KEPT_METRIC_COLUMNS)}"
                                  " FROM metrics WHERE workspace = :key", key):
        metrics.setdefault(run_id, set()).add(tuple(row))
    tags: dict[str, set] = {i: set() for i in runs}
    for run_id, tag in rows("SELECT run_id, tag FROM tags WHERE workspace = :key", key):
        tags.setdefault(run_id, set()).add(tag)
    # A params/metrics/tags row without its run row (not written by expctl) compares unequal.
    return {i: (runs.get(i), frozenset(params.get(i, ())), frozenset(metrics.get(i, ())),
                frozenset(tags.get(i, ()))) for i in runs.keys() | params.keys()
            | metrics.keys() | tags.keys()}


def _metric_rows(r: RunRecord, widest: int = SQLITE_WIDEST_INT, key: str = "") -> list[dict]:
    rows = []
    for name in dict.fromkeys([*r.metrics, *r.series]):
        s = r.series.get(name)
        row = {"workspace": key, "run_id": r.id, "name": name, "value": r.metrics.get(name),
               "last": None, "last_step": None, "min": None, "min_step": None, "max": None,
               "max_step": None, "count": None}
        if s:
            row.update(last=s.last, min=s.min, max=s.max, count=s.count,
                       last_step=_int_or_none(s.last_step, widest),
                       min_step=_int_or_none(s.min_step, widest),
                       max_step=_int_or_none(s.max_step, widest))
        rows.append(row)
    return rows
