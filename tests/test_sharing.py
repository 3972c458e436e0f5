"""Who else may have written a shared file: other runs' jobs (training attempts, validation,
still running or lost) against a file's last write, and record's overlap rule."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from expctl.runs import Run, RunInfo
from expctl.sharing import writers_besides
from expctl.windows import activity_intervals
from expctl.workspace import Workspace

T0 = 1_700_000_000.0


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


def folder(ws: Workspace, run_id: str, jobs: dict[str, tuple[float, float | None]]) -> Run:
    """A run folder whose records say when its jobs ran (name -> (start, end or None))."""
    path = ws.runs_dir / run_id
    (path / "training_logs").mkdir(parents=True)
    (path / "validation_results").mkdir()
    for name, (start, end) in jobs.items():
        record = {"started": iso(start), "ended": iso(end) if end else None,
                  "supervisor": {"pid": 999999999, "pid_start": 1, "boot_id": "gone"},
                  "process": {"pid": 999999999, "pid_start": 1, "boot_id": "gone"}}
        (path / name).write_text(json.dumps(record))
    return Run(path, RunInfo(id=run_id, created=iso(T0)))


def touched(path: Path, when: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    os.utime(path, (when, when))
    return path


def test_files_written_while_another_run_was_active(tmp_path: Path):
    ws = Workspace(tmp_path)
    me = folder(ws, "me", {"training_logs/job.json": (T0, T0 + 100)})
    folder(ws, "trainer", {"training_logs/job.1.json": (T0 + 10, T0 + 20),  # an earlier attempt
                           "training_logs/job.json": (T0 + 200, T0 + 300)})
    folder(ws, "validator", {"validation_results/validation.json": (T0 + 50, T0 + 60)})
    shared = tmp_path / "work"
    files = {name: touched(shared / name, when) for name, when in
             (("alone.ckpt", T0 + 5), ("attempt.ckpt", T0 + 15), ("val.png", T0 + 55),
              ("late.ckpt", T0 + 250))}
    own = touched(me.path / "checkpoints" / "x.ckpt", T0 + 15)
    found = writers_besides(ws, me, [*files.values(), own])
    assert {p.name: ids for p, ids in found.items()} == {
        "attempt.ckpt": ["trainer"], "val.png": ["validator"], "late.ckpt": ["trainer"]}


def test_record_also_counts_runs_active_alongside_before_the_last_write(tmp_path: Path):
    ws = Workspace(tmp_path)
    me = folder(ws, "me", {"training_logs/job.json": (T0, T0 + 100)})
    folder(ws, "other", {"training_logs/job.json": (T0 + 10, T0 + 20)})
    log = touched(tmp_path / "work" / "train_log.jsonl", T0 + 90)  # I wrote last
    assert writers_besides(ws, me, [log]) == {}  # gather's question: who wrote its content
    mine = activity_intervals(me.path)
    assert writers_besides(ws, me, [log], own=mine) == {log: ["other"]}  # record's: who else


def test_a_job_that_died_without_a_record_ends_at_its_logs_last_write(tmp_path: Path):
    ws = Workspace(tmp_path)
    me = folder(ws, "me", {"training_logs/job.json": (T0, T0 + 100)})
    lost = folder(ws, "lost", {"training_logs/job.json": (T0 + 10, None)})
    touched(lost.path / "training_logs" / "stdout.log", T0 + 30)
    assert activity_intervals(lost.path) == ((T0 + 10, T0 + 30),)
    files = [touched(tmp_path / "a", T0 + 20), touched(tmp_path / "b", T0 + 60)]
    assert list(writers_besides(ws, me, files)) == [files[0]]
