"""Which workspace a registry row belongs to: the workspace key, kept in `.expctl/`.

A shared registry (a team's PostgreSQL, or one SQLite file named by several workspaces) holds
the rows of many workspaces, and run ids repeat between them. Every row carries its
workspace's key; `reindex`, `ls` and `leaderboard` touch only their own workspace's rows.

The key is a random id made the first time a workspace meets a registry, stored in
`.expctl/workspace.json` with the folder it was made for. Not the path itself: two machines
(or containers) may hold different workspaces at the same path. Moving the folder keeps the
key (the stored path is updated); a copy that brought the file along (`cp -r`) gets a new key,
because the original folder still holds it; a git clone starts without `.expctl/` (ignored)
and so gets its own. Standard library only: `ls` reads it on every call.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from expctl.workspace import STATE_DIR, Workspace

KEY_FILE = "workspace.json"


def workspace_key(ws: Workspace) -> str:
    """This workspace's key, made (once, under a lock) when it has none or is a copy."""
    root = str(ws.root.resolve())
    path = ws.state_dir / KEY_FILE
    known = _read(path)
    if known is not None and known[1] == root:
        return known[0]
    import fcntl

    ws.state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(ws.state_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # two first commands at once agree on one key
        known = _read(path)
        if known is not None and known[1] == root:
            return known[0]
        if known is not None and not _held_elsewhere(known):
            key = known[0]  # the folder was moved: same workspace, same key
        else:
            key = uuid.uuid4().hex
        _write(path, key, root)
        return key
    finally:
        os.close(fd)


def _read(path: Path) -> tuple[str, str] | None:
    """(key, folder) from the key file; None when absent or unreadable (then a new key)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    key, folder = data.get("key"), data.get("path")
    if not isinstance(key, str) or not key or not isinstance(folder, str):
        return None
    return key, folder


def _held_elsewhere(known: tuple[str, str]) -> bool:
    """Whether the folder the key was made for still holds it (this folder is then a copy)."""
    other = _read(Path(known[1]) / STATE_DIR / KEY_FILE)
    return other is not None and other == known


def _write(path: Path, key: str, root: str) -> None:
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"key": key, "path": root}) + "\n", encoding="utf-8")
    os.replace(tmp, path)
