"""Metric logging for training scripts: standard library only, a no-op outside expctl.

    from expctl import track
    track.log({"loss": 0.31, "lr": 3e-4}, step=120)

Records are appended as JSON lines (`{"step": 120, "time": 1700000000.123, "loss": 0.31, ...}`)
to ``$EXPCTL_RUN_DIR/metrics.jsonl``. A call only appends to an in-memory buffer (well under
5 µs); a daemon thread writes the buffer at least every second, and the rest is written at
normal interpreter exit (a SIGKILL loses at most the last second). Under a multi-process
launcher only rank 0 writes, so records are never duplicated; a forked child (e.g. a
DataLoader worker) starts with an empty buffer so it never writes its parent's records.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from expctl.rundir import METRICS_FILE

FLUSH_INTERVAL_S = 1.0
RANK_VARIABLES = ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID")

_start_lock = threading.Lock()  # one thread decides whether to log, once
_write_lock = threading.Lock()  # keeps flushes (thread and atexit) in order
# deque.append and popleft are atomic, so `log` needs no lock: it stays well under 5 µs.
_buffer: deque[tuple[float, int | None, dict]] = deque()
# What json.dumps calls, without its per-call checks; inf and nan refused (JSON has no such
# numbers), so such a record takes the slow path, which writes them as "inf", "-inf", "nan".
_encode = json.JSONEncoder(allow_nan=False).encode
_path: Path | None = None
_enabled: bool | None = None  # None until the first call decides
_thread: threading.Thread | None = None


def run_dir() -> Path | None:
    """The folder of the run this process belongs to, or None outside expctl."""
    value = os.environ.get("EXPCTL_RUN_DIR")
    return Path(value) if value else None


def _rank() -> str:
    """This process's global rank; the first launcher variable present wins."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name)
        if value not in (None, ""):
            return value.strip()
    return "0"


def _start() -> bool:
    global _enabled, _path, _thread
    with _start_lock:
        if _enabled is not None:  # another thread decided first
            return _enabled
        folder = run_dir()
        enabled = folder is not None and _rank() == "0"
        if enabled:
            _path = folder / METRICS_FILE
            _thread = threading.Thread(target=_flush_forever, name="expctl-track", daemon=True)
            _thread.start()
            atexit.register(flush)
        _enabled = enabled
        return enabled


def log(metrics: dict[str, Any], step: int | None = None) -> None:
    """Record metric values (numbers) at an optional step. Cheap: it only buffers."""
    if _enabled is False or (_enabled is None and not _start()):
        return
    _buffer.append((time.time(), step, dict(metrics)))


def flush() -> None:
    """Write buffered records now (also called every second and at exit)."""
    with _write_lock:
        buffer, pop = _buffer, _buffer.popleft
        pending = [pop() for _ in range(len(buffer))]  # only what is there now: others may add
        if not pending or _path is None:
            return
        lines = [_line(stamp, step, metrics) for stamp, step, metrics in pending]
        # One write of whole lines in append mode keeps concurrent readers on line boundaries.
        with open(_path, "a", encoding="utf-8") as f:
            f.write("".join(lines))


def _line(stamp: float, step: int | None, metrics: dict) -> str:
    record: dict[str, Any] = {"step": step, "time": round(stamp, 3)}
    record.update(metrics)
    try:
        return _encode(record) + "\n"  # the common case: plain numbers (numpy floats too)
    except (TypeError, ValueError):
        pass
    plain = {str(k): _plain(v) for k, v in record.items()}
    try:
        return _encode(plain) + "\n"
    except (TypeError, ValueError):
        return _encode({k: _text(v) for k, v in plain.items()}) + "\n"


def _plain(value: Any) -> Any:
    """Numbers from numpy/torch scalars become plain numbers; anything else stays or is text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else _NON_FINITE.get(value, "nan")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return _plain(item())
        except (TypeError, ValueError, RuntimeError):  # e.g. an array of several values
            pass
    return _text(value)


_NON_FINITE = {math.inf: "inf", -math.inf: "-inf"}


def _text(value: Any) -> Any:
    return value if isinstance(value, (bool, int, float, str, type(None))) else str(value)


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_INTERVAL_S)
        try:
            flush()
        except OSError:
            pass  # the run folder may vanish under us; the next write tries again


def _after_fork_in_child() -> None:
    """A forked child must not write its parent's records, and has no flush thread."""
    global _start_lock, _write_lock, _buffer, _enabled, _thread
    _start_lock, _write_lock = threading.Lock(), threading.Lock()
    _buffer = deque()
    if _enabled:
        _enabled, _thread = None, None  # decided again (and a thread started) on first use


os.register_at_fork(after_in_child=_after_fork_in_child)


# --- reading ----------------------------------------------------------------------------------


def _parse_lines(text: str) -> list[dict]:
    body = text.strip()
    if not body:
        return []
    try:  # the common case, a whole file of good lines, in one call: 5x faster than per line
        values = json.loads("[" + body.replace("\n", ",") + "]")
    except ValueError:
        pass  # a torn or blank line somewhere: parse line by line below
    else:  # one value per line, as the line-by-line reading would find them
        if len(values) == body.count("\n") + 1:
            return [v for v in values if isinstance(v, dict)]
    records = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue  # a torn last line left by a crash, or a stray partial write
        if isinstance(value, dict):
            records.append(value)
    return records


def read_records(path: Path) -> list[dict]:
    """Parse a metrics JSONL file, skipping a torn last line left by a crash."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return _parse_lines(text)


def read_last_records(path: Path, max_bytes: int = 65536) -> list[dict]:
    """The records in the last `max_bytes` of a metrics file (cheap on a huge file)."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            start = max(0, size - max_bytes)
            f.seek(start)
            data = f.read()
    except FileNotFoundError:
        return []
    if start > 0:
        data = data[data.find(b"\n") + 1 :] if b"\n" in data else b""  # skip the cut line
    return _parse_lines(data.decode("utf-8", errors="replace"))
