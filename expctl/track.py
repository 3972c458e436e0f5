"""Metric logging for training scripts: standard library only, a no-op outside expctl.

    from expctl import track
    track.log({"loss": 0.31, "lr": 3e-4}, step=120)

Records are appended as JSON lines to ``$EXPCTL_RUN_DIR/metrics.jsonl``. Calls only buffer;
a daemon thread writes the buffer at least every second, and the rest is written at exit.
Under a multi-process launcher only rank 0 writes, so records are never duplicated.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from pathlib import Path

METRICS_FILE = "metrics.jsonl"
FLUSH_INTERVAL_S = 1.0

_lock = threading.Lock()
_buffer: list[tuple[float, int | None, dict]] = []
_path: Path | None = None
_enabled: bool | None = None
_thread: threading.Thread | None = None


def run_dir() -> Path | None:
    """The folder of the run this process belongs to, or None outside expctl."""
    value = os.environ.get("EXPCTL_RUN_DIR")
    return Path(value) if value else None


def _start() -> bool:
    global _enabled, _path, _thread
    folder = run_dir()
    rank = os.environ.get("RANK", "0")
    _enabled = folder is not None and rank in ("", "0")
    if _enabled:
        _path = folder / METRICS_FILE
        _thread = threading.Thread(target=_flush_forever, name="expctl-track", daemon=True)
        _thread.start()
        atexit.register(flush)
    return _enabled


def log(metrics: dict, step: int | None = None) -> None:
    """Record metric values (numbers) at an optional step."""
    if _enabled is False or (_enabled is None and not _start()):
        return
    with _lock:
        _buffer.append((time.time(), step, metrics.copy()))


def flush() -> None:
    """Write buffered records now."""
    global _buffer
    with _lock:
        pending, _buffer = _buffer, []
    if not pending or _path is None:
        return
    lines = []
    for stamp, step, metrics in pending:
        record = {"step": step, "time": round(stamp, 3)}
        record.update({k: _plain(v) for k, v in metrics.items()})
        lines.append(json.dumps(record))
    # One write of whole lines in append mode keeps concurrent readers on line boundaries.
    with open(_path, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def _plain(value):
    """Numbers from numpy/torch scalars become plain floats; anything else stays as is."""
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_INTERVAL_S)
        try:
            flush()
        except OSError:
            pass  # the run folder may vanish under us; the next write tries again


def read_records(path: Path) -> list[dict]:
    """Parse a metrics JSONL file, skipping a torn last line left by a crash."""
    records = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return records
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records
