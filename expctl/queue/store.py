"""The queue's files under .expctl/queue/ (machine-local, git-ignored); standard library only.

    entries/<run id>.json   one queued run (see Entry); removed when cancelled or ended
    env/<run id>.json       the environment of the command that queued it (mode 0600)
    queue.lock              flock held for every change of an entry: one writer at a time
    scheduler.lock          flock held by the running scheduler for its whole life
    scheduler.json          the scheduler's pid identity, for `expctl queue` and tests
    scheduler.log           what the scheduler printed (its own errors)
    paused                  present while `expctl queue pause` holds new starts back
    entries.cache.json      every entry as of one look at entries/, keyed by the folder's
                            mtime: `expctl queue` and the scheduler read one file, not one
                            per entry, until an entry changes (see read_entries)

Entry states: `queued` (waits; `reason` says for what), `starting` (the scheduler decided to
start it, under queue.lock, and is launching it), `started` (launched: it holds its
devices until the run is no longer running), `blocked` (a run it waits for failed: it will
not start unless that run is resumed and finishes).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_DIR = ".expctl"  # expctl.workspace.STATE_DIR (not imported: status.py reads entries)
QUEUE_DIR = "queue"
WAITING = ("queued", "blocked")  # entry states a run's status shows instead of its own
HOLDING = ("starting", "started")  # entry states that hold devices


@dataclass
class Entry:
    """One run in the queue."""

    run_id: str
    seq: int  # order of arrival (nanoseconds at enqueue)
    queued: str  # ISO time it was queued
    priority: int = 0  # higher starts first; equal priorities in order of arrival
    after: list[str] = field(default_factory=list)  # runs that must finish successfully first
    launcher: str | None = None  # None: the recipe's, else expctl.yaml's
    resume: bool = False
    need: int = 1  # GPUs (or slots) the run needs
    state: str = "queued"
    reason: str | None = None
    devices: list[int] = field(default_factory=list)  # assigned GPU ids (or slot numbers)
    attempt_before: int = 0  # launch.json's attempt when the start was decided
    changed: str | None = None  # ISO time of the last state change

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def queue_dir(root: Path) -> Path:
    return root / STATE_DIR / QUEUE_DIR


def queue_dir_of_run(run_path: Path) -> Path:
    """The queue of the workspace a run folder (runs/<id>) belongs to."""
    return run_path.parent.parent / STATE_DIR / QUEUE_DIR


def entry_path(qdir: Path, run_id: str) -> Path:
    return qdir / "entries" / f"{run_id}.json"


def read_entry(qdir: Path, run_id: str) -> Entry | None:
    try:
        data = json.loads(entry_path(qdir, run_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return Entry.from_dict(data) if isinstance(data, dict) else None


def read_entries(qdir: Path) -> list[Entry]:
    """Every entry, in queue order: priority (highest first), then arrival.

    Every change of an entry replaces or removes a file in entries/, which changes the
    folder's mtime; so the entries read once are kept in CACHE_FILE under that mtime, and
    read from there while the folder's mtime is the same. Only a folder unchanged for
    SETTLED_NS is cached: a later change then cannot carry the same (coarse) timestamp."""
    folder = os.path.join(qdir, "entries")
    try:
        mtime = os.stat(folder).st_mtime_ns
    except (FileNotFoundError, NotADirectoryError):
        return []
    settled = time.time_ns() - mtime > SETTLED_NS  # looked at after the stat
    memo = _memo.get(folder)
    found = memo[1] if memo is not None and memo[0] == mtime else _cached_entries(qdir, mtime)
    if found is None:
        found = _read_entry_files(folder)
        if settled:
            _write_cache(qdir, mtime, found)
    if settled:
        _memo[folder] = (mtime, found)  # the scheduler's next pass needs not even one file
    fields = Entry.__dataclass_fields__
    entries = [Entry(**{k: list(v) if isinstance(v, list) else v for k, v in data.items()
                        if k in fields}) for data in found]
    return sorted(entries, key=lambda e: (-e.priority, e.seq, e.run_id))


CACHE_FILE = "entries.cache.json"
SETTLED_NS = 2_000_000_000
_memo: dict[str, tuple[int, list[dict[str, Any]]]] = {}  # folder -> (mtime, entries) read


def _read_entry_files(folder: str) -> list[dict[str, Any]]:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        if not name.endswith(".json") or name.startswith("."):
            continue
        try:
            with open(os.path.join(folder, name), "rb") as f:
                data = json.loads(f.read())
        except (OSError, ValueError):
            continue  # removed meanwhile, or half a file of a crashed older writer
        if isinstance(data, dict) and isinstance(data.get("run_id"), str):
            found.append(data)
    return found


def _cached_entries(qdir: Path, mtime: int) -> list[dict[str, Any]] | None:
    try:
        with open(os.path.join(qdir, CACHE_FILE), "rb") as f:
            cache = json.loads(f.read())
    except (OSError, ValueError):
        return None
    if not isinstance(cache, dict) or cache.get("entries_mtime_ns") != mtime:
        return None
    found = cache.get("entries")
    if not isinstance(found, list) or not all(isinstance(d, dict) for d in found):
        return None
    return found


def _write_cache(qdir: Path, mtime: int, found: list[dict[str, Any]]) -> None:
    """Only a shortcut (not durable, outside entries/): a lost or garbled one is read again."""
    path = os.path.join(qdir, CACHE_FILE)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps({"entries_mtime_ns": mtime, "entries": found}))
        os.replace(tmp, path)
    except OSError:
        pass


def has_entries(qdir: Path) -> bool:
    """Whether anything is queued (one directory read: every command asks this)."""
    try:
        with os.scandir(qdir / "entries") as found:
            return any(e.name.endswith(".json") and not e.name.startswith(".") for e in found)
    except (FileNotFoundError, NotADirectoryError):
        return False


def write_entry(qdir: Path, entry: Entry) -> None:
    """Replace the entry atomically and durably (the start decision must survive a crash)."""
    path = entry_path(qdir, entry.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(asdict(entry), indent=1) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def remove_entry(qdir: Path, run_id: str) -> None:
    entry_path(qdir, run_id).unlink(missing_ok=True)
    env_path(qdir, run_id).unlink(missing_ok=True)


def env_path(qdir: Path, run_id: str) -> Path:
    return qdir / "env" / f"{run_id}.json"


def save_env(qdir: Path, run_id: str, environ: dict[str, str]) -> None:
    """The queuing shell's environment, for the job: readable only by the user (secrets)."""
    path = env_path(qdir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(environ, f)


def read_env(qdir: Path, run_id: str) -> dict[str, str] | None:
    try:
        value = json.loads(env_path(qdir, run_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


@contextmanager
def queue_lock(qdir: Path) -> Iterator[None]:
    """Exclusive: every read-decide-write of entries happens under it."""
    qdir.mkdir(parents=True, exist_ok=True)
    with open(qdir / "queue.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def is_paused(qdir: Path) -> bool:
    return (qdir / "paused").exists()


def set_paused(qdir: Path, paused: bool) -> None:
    qdir.mkdir(parents=True, exist_ok=True)
    if paused:
        (qdir / "paused").touch()
    else:
        (qdir / "paused").unlink(missing_ok=True)


def try_scheduler_lock(qdir: Path):
    """The scheduler lock's open file if this process got it, else None (one is running)."""
    qdir.mkdir(parents=True, exist_ok=True)
    handle = open(qdir / "scheduler.lock", "a")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def scheduler_running(qdir: Path) -> bool:
    """Whether a scheduler holds the lock now."""
    if not (qdir / "scheduler.lock").exists():
        return False
    handle = try_scheduler_lock(qdir)
    if handle is None:
        return True
    handle.close()
    return False


def now_iso() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).astimezone().isoformat(timespec="milliseconds")


def arrival() -> int:
    return time.time_ns()
