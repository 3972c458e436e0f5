"""Training and evaluating the built-in example end to end, as real processes, on a tiny config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]

from models.evaluate import main as evaluate_main  # noqa: E402

# Seconds on a CPU: tiny frames, few short sequences, a narrow model.
TINY = [
    "data.width=64", "data.height=64", "data.seq_len=4", "data.time_bins=2",
    "data.train_sequences=4", "data.val_sequences=2", "data.size_scale=0.5",
    "data.min_objects=2", "data.max_objects=3", "data.class_weights=[1, 1, 1, 1, 1, 1, 1, 1]",
    "model.widths=[8, 8, 16, 16]", "fpn.width=16", "head.width=16",
    "train.batch_size=2", "train.clip_len=2", "train.warmup_steps=1",
    "train.log_every=1", "train.eval_every=2", "train.ckpt_every=2",
]


def run_module(
    module: str, args: list[str], run_dir: Path, cache: Path
) -> subprocess.CompletedProcess:
    env = {**os.environ, "EXPCTL_RUN_DIR": str(run_dir), "EXPCTL_DATA_CACHE": str(cache)}
    result = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def read_metrics(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """A 4-step run into its own run folder (shared by the tests below, which only read it)."""
    base = tmp_path_factory.mktemp("train")
    run_dir, cache = base / "run", base / "cache"
    result = run_module("models.train", [*TINY, "train.max_steps=4"], run_dir, cache)
    return run_dir, cache, result


def test_training_writes_checkpoints_with_everything_needed_to_resume(trained):
    run_dir, _, result = trained
    final = run_dir / "checkpoints" / "ckpt_step0000004.pt"
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "ckpt_step0000002.pt", "ckpt_step0000004.pt"
    ]
    assert result.stdout.rstrip().splitlines()[-1] == f"final checkpoint: {final}"
    checkpoint = torch.load(final, map_location="cpu", weights_only=True)
    assert checkpoint["step"] == 4
    assert set(checkpoint) == {"model", "optimizer", "scheduler", "step", "config"}
    assert checkpoint["config"]["model"]["widths"] == [8, 8, 16, 16]
    assert checkpoint["scheduler"]["last_epoch"] == 4


def test_training_reports_progress_and_metrics(trained):
    run_dir, _, result = trained
    progress = [line for line in result.stdout.splitlines() if line.startswith("step ")]
    assert [line.split(" | ")[0] for line in progress] == [f"step {s}/4" for s in (1, 2, 3, 4)]
    assert all("frames/s" in line for line in progress)
    records = read_metrics(run_dir)
    train_records = [r for r in records if "loss" in r]
    eval_records = [r for r in records if "map" in r]
    assert [r["step"] for r in train_records] == [1, 2, 3, 4]
    assert all(r["loss"] > 0 and r["lr"] > 0 for r in train_records)
    assert [r["step"] for r in eval_records] == [2, 4]
    for key in ("map", "small_map", "ap50", "ap75", "map_small", "ar100", "ap_pedestrian"):
        assert key in eval_records[-1]


def test_training_writes_tensorboard_and_confusion_matrices(trained):
    run_dir, _, _ = trained
    events = list((run_dir / "training_logs" / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    scalars = set(accumulator.Tags()["scalars"])
    assert {"train/loss", "train/lr", "val/map", "val/small_map"} <= scalars
    assert [e.step for e in accumulator.Scalars("train/loss")] == [1, 2, 3, 4]
    names = sorted(p.name for p in (run_dir / "confusion_matrices").iterdir())
    expected = [f"confusion_matrix_step{s:07d}.{ext}" for s in (2, 4) for ext in ("json", "png")]
    assert names == expected
    assert (run_dir / "training_logs" / "config.yaml").exists()


def test_a_second_training_of_one_config_is_bit_identical(trained, tmp_path):
    """README: the example's numbers are deterministic for a configuration on one machine."""
    run_dir, cache, _ = trained
    again = tmp_path / "again"
    run_module("models.train", [*TINY, "train.max_steps=4"], again, cache)
    timing = {"time", "frames_per_s"}
    first, second = ([{k: v for k, v in r.items() if k not in timing} for r in read_metrics(d)]
                     for d in (run_dir, again))
    assert first == second and any("map" in r for r in first)
    weights = [torch.load(d / "checkpoints" / "ckpt_step0000004.pt", weights_only=True)["model"]
               for d in (run_dir, again)]
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])


def test_resume_continues_from_the_saved_step_and_optimizer_state(trained, tmp_path):
    run_dir, cache, _ = trained
    # A fresh run folder holding only the step-2 checkpoint of the finished run.
    resumed_dir = tmp_path / "resumed"
    (resumed_dir / "checkpoints").mkdir(parents=True)
    step2 = run_dir / "checkpoints" / "ckpt_step0000002.pt"
    (resumed_dir / "checkpoints" / step2.name).write_bytes(step2.read_bytes())
    args = [*TINY, "train.max_steps=4", "--resume"]
    result = run_module("models.train", args, resumed_dir, cache)
    assert f"resuming from {resumed_dir / 'checkpoints' / step2.name} (step 2)" in result.stdout
    assert [r["step"] for r in read_metrics(resumed_dir) if "loss" in r] == [3, 4]

    resumed = torch.load(resumed_dir / "checkpoints" / "ckpt_step0000004.pt", weights_only=True)
    straight = torch.load(run_dir / "checkpoints" / "ckpt_step0000004.pt", weights_only=True)
    # AdamW counts its steps per parameter: 4 means the saved state was carried on, not reset.
    adam_steps = {float(s["step"]) for s in resumed["optimizer"]["state"].values()}
    assert adam_steps == {4.0}
    assert resumed["scheduler"]["last_epoch"] == 4
    # Clips are drawn per step from the seed, so 2 + 2 steps equal 4 steps without a break.
    for name, tensor in straight["model"].items():
        torch.testing.assert_close(resumed["model"][name], tensor, rtol=1e-4, atol=1e-5, msg=name)


def test_evaluate_prints_the_coco_summary_and_writes_metrics(trained, tmp_path):
    run_dir, cache, _ = trained
    checkpoint = run_dir / "checkpoints" / "ckpt_step0000004.pt"
    out_dir = tmp_path / "validation"
    args = [f"checkpoint={checkpoint}", f"out_dir={out_dir}", *TINY, "train.max_steps=4"]
    result = run_module("models.evaluate", args, run_dir, cache)
    summary = [line for line in result.stdout.splitlines() if line.lstrip().startswith("Average")]
    assert len(summary) == 12
    assert summary[0].lstrip().startswith(
        "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = "
    )
    metrics = json.loads((out_dir / "validation_results" / "metrics.json").read_text())
    for key in ("map", "ap50", "ap75", "map_small", "map_medium", "map_large", "ar100",
                "small_map", "ap_car", "ap_pedestrian", "step"):
        assert key in metrics
    assert metrics["step"] == 4
    assert f"{metrics['map']:0.3f}" in summary[0]
    assert sorted(p.name for p in (out_dir / "confusion_matrices").iterdir()) == [
        "confusion_matrix_eval_step0000004.json", "confusion_matrix_eval_step0000004.png"
    ]


def test_evaluate_rejects_a_different_architecture(trained, tmp_path, capsys, monkeypatch):
    run_dir, cache, _ = trained
    monkeypatch.setenv("EXPCTL_DATA_CACHE", str(tmp_path / "cache"))
    checkpoint = run_dir / "checkpoints" / "ckpt_step0000004.pt"
    with pytest.raises(SystemExit) as caught:
        evaluate_main([f"checkpoint={checkpoint}", f"out_dir={tmp_path}", *TINY,
                       "fpn.in_stages=[1, 2, 3, 4]"])
    assert caught.value.code == 2
    assert capsys.readouterr().err == (
        "error: `fpn.in_stages` differs from the checkpoint's configuration; "
        "the architecture cannot change at evaluation\n"
    )
    assert not (tmp_path / "cache").exists()


def test_evaluate_needs_an_existing_checkpoint(tmp_path, capsys):
    missing = tmp_path / "missing.pt"
    with pytest.raises(SystemExit) as caught:
        evaluate_main([f"checkpoint={missing}"])
    assert caught.value.code == 2
    assert capsys.readouterr().err == f"error: checkpoint `{missing}` does not exist\n"
