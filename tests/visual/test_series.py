"""Reading every series of a run (metrics.jsonl, TensorBoard, the recipe's JSONL sources) and
downsampling that keeps spikes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from report_study import STEPS, curve, make_study

from expctl.errors import BadInputError
from expctl.phases.new import create_run
from expctl.runs import load_run
from expctl.visual.series import check_x, downsample, load_run_series
from expctl.workspace import find_workspace

ARGPARSE_RECIPE = """\
description: an argparse script that writes its own train_log.jsonl, one record per epoch
command: ["python", "-c", "print('training')"]
metrics:
  primary: ap
  sources:
    - {kind: jsonl, path: "{run_dir}/train_log.jsonl", metrics: {ap_gap: score_gap}}
"""


def test_the_series_of_a_study_run(workspace: Path) -> None:
    make_study(workspace, matrices=False)
    ws = find_workspace(str(workspace))
    found = load_run_series(ws, load_run(ws, "study_lb2"))
    assert list(found.series) == ["loss", "acc", "small_map", "val/rmse"]
    loss = found.series["loss"]
    assert (loss.source, loss.x_label) == ("metrics.jsonl", "step")
    assert loss.x == STEPS and loss.y == curve("study_lb2")["loss"]
    rmse = found.series["val/rmse"]
    assert (rmse.source, rmse.x, rmse.y) == ("tensorboard", [0, 1, 2], [3.0, 2.5, 2.25])
    assert found.problems == []
    assert "val/rmse" not in load_run_series(ws, load_run(ws, "study")).series


def test_a_recipe_jsonl_source_by_epoch_with_text_and_non_finite_values(workspace: Path) -> None:
    (workspace / "recipes" / "faap.yaml").write_text(ARGPARSE_RECIPE, encoding="utf-8")
    ws = find_workspace(str(workspace))
    run = create_run(ws, "faap_a", "faap")
    rows = [{"epoch": 0, "loss_det": 1.5, "score_gap": 0.3, "note": "warm-up", "n": True},
            {"epoch": 1, "loss_det": float("nan"), "score_gap": 0.2},
            {"epoch": 2, "loss_det": 1.1, "score_gap": 0.25, "sub": {"a": 1}}]
    (run.path / "train_log.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows) + '{"epoch": 3, "loss', encoding="utf-8")
    found = load_run_series(ws, run)
    assert list(found.series) == ["loss_det", "score_gap"]  # text, bools and mappings are not
    loss = found.series["loss_det"]
    assert (loss.source, loss.x_label) == ("jsonl train_log.jsonl", "epoch")
    assert (loss.x, loss.y, loss.skipped) == ([0, 2], [1.5, 1.1], 1)
    assert found.series["score_gap"].y == [0.3, 0.2, 0.25]


def test_a_history_being_written_reads_its_complete_lines(workspace: Path) -> None:
    """A training job appends while the report reads: the torn last line is left out."""
    make_study(workspace, matrices=False)
    ws = find_workspace(str(workspace))
    path = workspace / "runs" / "study" / "metrics.jsonl"
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"step": 60, "time": 1.0, "loss": 0.8')
    loss = load_run_series(ws, load_run(ws, "study")).series["loss"]
    assert (loss.x, loss.y) == (STEPS, curve("study")["loss"])
    with open(path, "a", encoding="utf-8") as f:
        f.write(', "acc": NaN}\n')  # the line completed, with a value that is not a number
    found = load_run_series(ws, load_run(ws, "study")).series
    assert found["loss"].x == [*STEPS, 60] and found["acc"].skipped == 1


def test_time_axis_counts_seconds_from_the_first_record(workspace: Path) -> None:
    make_study(workspace, matrices=False)
    ws = find_workspace(str(workspace))
    loss = load_run_series(ws, load_run(ws, "study"), x="time").series["loss"]
    assert loss.x_label == "time (s)" and loss.x[0] == 0.0
    assert all(b >= a for a, b in zip(loss.x, loss.x[1:], strict=False))
    with pytest.raises(BadInputError):
        check_x("wall")


def test_a_single_spike_survives_downsampling() -> None:
    rng = random.Random(3)
    n = 10_000
    x = list(range(n))
    y = [1.0 + rng.random() * 0.01 for _ in range(n)]
    y[5_432] = 100.0  # one step where the loss blew up
    y[77] = -50.0
    dx, dy = downsample(x, y, 600)
    assert len(dx) <= 602 and dx == sorted(dx)
    assert max(dy) == 100.0 and dx[dy.index(100.0)] == 5_432
    assert min(dy) == -50.0 and dx[dy.index(-50.0)] == 77
    assert (dx[0], dx[-1]) == (0, n - 1)
    assert all(y[int(a)] == b for a, b in zip(dx, dy, strict=True))  # real points only


def test_short_series_are_drawn_whole() -> None:
    assert downsample([1, 2, 3], [3.0, 1.0, 2.0], 600) == ([1, 2, 3], [3.0, 1.0, 2.0])
