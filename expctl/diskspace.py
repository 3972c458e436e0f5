"""A full disk, said plainly: one line naming what could not be written, and what to do."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from expctl.errors import ExpctlError

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
LOW_BYTES = 64 * 1024  # less free space than this, and a failed write is the disk being full
FULL_HINT = "free some space (or ask for more quota), then run the command again"


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) says the disk or the quota is full."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
            return True
        if "database or disk is full" in str(exc):  # SQLite's SQLITE_FULL
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def disk_full_error(exc: BaseException | None = None) -> ExpctlError:
    """The one-line error for a full disk, naming the file when the error knows it."""
    name = getattr(exc, "filename", None)
    where = f" (writing `{name}`)" if name else ""
    return ExpctlError(f"The disk is full{where}: no space left on the device.", hint=FULL_HINT)


def no_room_for(path: Path) -> bool:
    """Whether the file system holding `path` has (almost) no space left for this user."""
    try:
        st = os.statvfs(path if path.is_dir() else path.parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < LOW_BYTES
