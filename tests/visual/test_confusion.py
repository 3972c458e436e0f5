"""Confusion matrices of a run: images with their step, numbers from JSON, NPY or CSV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from expctl.runs import Run, RunInfo
from expctl.visual.confusion import latest_by_kind, read_matrix, run_matrices, step_of


def test_the_latest_matrix_of_each_kind(tmp_path: Path) -> None:
    folder = tmp_path / "confusion_matrices"
    folder.mkdir()
    for name in ("confusion_matrix_step0000100.png", "confusion_matrix_step0000100.json",
                 "confusion_matrix_step0000300.png", "confusion_matrix_eval_step0000300.png",
                 "confusion_matrix_e002_s0000200.png", "confusion_matrix_latest.png",
                 "notes.txt"):
        (folder / name).write_bytes(b"x")
    run = Run(tmp_path, RunInfo(id="r", created="2025-01-01T00:00:00+00:00"))
    found = run_matrices(run)
    assert len(found) == 5
    latest = latest_by_kind(found)
    assert latest["confusion_matrix_step#"].step == 300
    assert latest["confusion_matrix_step#"].numbers is None
    assert latest["confusion_matrix_eval_step#"].step == 300
    assert latest["confusion_matrix_e#_s#"].step == 200
    assert latest["confusion_matrix_latest"].step is None
    assert step_of("confusion_matrix_e002_s0000200") == 200


def test_numbers_from_json_npy_and_csv(tmp_path: Path) -> None:
    counts = [[8, 2], [0, 0]]
    (tmp_path / "a.json").write_text(json.dumps({"labels": ["car", "bike"], "matrix": counts}))
    np.save(tmp_path / "b.npy", np.array(counts))
    (tmp_path / "c.csv").write_text(",car,bike\ncar,8,2\nbike,0,0\n")
    (tmp_path / "d.csv").write_text("8,2\n0,0\n")
    for name in ("a.json", "b.npy", "c.csv", "d.csv"):
        matrix = read_matrix(tmp_path / name)
        assert matrix is not None, name
        assert matrix.counts == [[8.0, 2.0], [0.0, 0.0]]
        assert matrix.row_shares() == [[0.8, 0.2], [0.0, 0.0]]
    assert read_matrix(tmp_path / "c.csv").labels == ["car", "bike"]
    assert read_matrix(tmp_path / "d.csv").labels == ["0", "1"]
    (tmp_path / "bad.json").write_text(json.dumps({"matrix": [[1, 2, 3], [4, 5, 6]]}))
    assert read_matrix(tmp_path / "bad.json") is None  # not square
    (tmp_path / "broken.json").write_text("{")
    assert read_matrix(tmp_path / "broken.json") is None
