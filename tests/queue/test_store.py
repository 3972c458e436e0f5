"""The queue's entries read through their cache (expctl.queue.store.read_entries): one file
while entries/ is unchanged, every change seen at once."""

from __future__ import annotations

import os
import time
from pathlib import Path

from expctl.queue import store
from expctl.queue.store import Entry, read_entries, remove_entry, write_entry


def _settle(qdir: Path) -> None:
    """entries/ as if its last change were a minute ago (the cache keeps only such a folder)."""
    old = time.time() - 60
    os.utime(qdir / "entries", (old, old))
    store._memo.clear()  # a fresh process: only the cache file remains


def test_the_cache_serves_an_unchanged_folder_and_any_change_is_read_again(tmp_path) -> None:
    qdir = tmp_path / "queue"
    for i in range(3):
        write_entry(qdir, Entry(run_id=f"r{i}", seq=i, queued="", reason="queue paused"))
    _settle(qdir)
    assert [e.run_id for e in read_entries(qdir)] == ["r0", "r1", "r2"]
    assert (qdir / store.CACHE_FILE).is_file()
    # Rewritten in place (no rename, the folder untouched): the cache answers, not the file.
    path = store.entry_path(qdir, "r1")
    stamp = os.stat(qdir / "entries").st_mtime_ns
    path.write_text(path.read_text().replace("queue paused", "edited in place"))
    os.utime(qdir / "entries", ns=(stamp, stamp))
    store._memo.clear()
    assert read_entries(qdir)[1].reason == "queue paused"
    # Every real change replaces or removes a file: the folder's mtime moves on.
    write_entry(qdir, Entry(run_id="r1", seq=1, queued="", reason="no free slot"))
    remove_entry(qdir, "r0")
    assert [(e.run_id, e.reason) for e in read_entries(qdir)] == \
        [("r1", "no free slot"), ("r2", "queue paused")]
    _settle(qdir)
    assert [e.run_id for e in read_entries(qdir)] == ["r1", "r2"]


def test_a_garbled_cache_is_read_past_and_entries_are_copies(tmp_path) -> None:
    qdir = tmp_path / "queue"
    write_entry(qdir, Entry(run_id="a", seq=1, queued="", after=["x"]))
    _settle(qdir)
    read_entries(qdir)
    (qdir / store.CACHE_FILE).write_text("{not json")
    store._memo.clear()
    first = read_entries(qdir)
    first[0].after.append("changed by a caller")
    assert [e.after for e in read_entries(qdir)] == [["x"]]
