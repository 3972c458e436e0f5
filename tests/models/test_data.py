"""The synthetic event data of the built-in example: determinism, content, cache."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.config import DataConfig  # noqa: E402
from models.data import OBJECT_KINDS, cache_key, cache_path, generate_sequence, load_or_generate  # noqa: E402


@pytest.fixture
def tiny() -> DataConfig:
    return DataConfig(width=96, height=64, seq_len=4, train_sequences=3, val_sequences=2,
                      size_scale=0.6, time_bins=3)


def test_generator_is_deterministic_by_seed(tiny):
    first_frames, first_boxes = generate_sequence(tiny, "train", 1)
    again_frames, again_boxes = generate_sequence(tiny, "train", 1)
    np.testing.assert_array_equal(first_frames, again_frames)
    np.testing.assert_array_equal(first_boxes, again_boxes)
    other_frames, _ = generate_sequence(replace(tiny, seed=1), "train", 1)
    assert not np.array_equal(first_frames, other_frames)


def test_train_and_val_do_not_share_sequences(tiny):
    train_frames, _ = generate_sequence(tiny, "train", 0)
    val_frames, _ = generate_sequence(tiny, "val", 0)
    assert not np.array_equal(train_frames, val_frames)


def test_frames_are_polarity_by_time_histograms_with_boxes_inside(tiny):
    frames, boxes = generate_sequence(tiny, "train", 0)
    assert frames.shape == (4, 2 * 3, 64, 96) and frames.dtype == np.uint8
    assert boxes.shape == (4, tiny.max_objects, 5)
    real = boxes[..., 0] >= 0
    assert real.any(axis=1).all()
    # The same objects in every frame of a sequence: tracks, not independent frames.
    assert (real == real[:1]).all()
    x, y, w, h = (boxes[..., i][real] for i in range(1, 5))
    assert (x >= 0).all() and (y >= 0).all()
    assert (x + w <= tiny.width + 1e-3).all() and (y + h <= tiny.height + 1e-3).all()
    # Events concentrate on objects: the event rate inside boxes beats the noise outside.
    last = boxes[-1][real[-1]]
    inside = np.zeros((64, 96), dtype=bool)
    for _, bx, by, bw, bh in last:
        inside[int(by) : int(by + bh) + 1, int(bx) : int(bx + bw) + 1] = True
    activity = frames[-1].sum(axis=0)
    assert activity[inside].mean() > 5 * activity[~inside].mean()
    assert frames[..., :3, :, :].sum() > 0 and frames[..., 3:, :, :].sum() > 0  # ON and OFF


def test_small_classes_are_small_and_buses_large():
    largest_small = max(max(OBJECT_KINDS[c].width[1], OBJECT_KINDS[c].height[1]) for c in (2, 3, 4))
    assert largest_small <= 16
    assert OBJECT_KINDS[5].width[0] > 3 * largest_small  # buses


def test_cache_is_written_once_and_reused(tiny, tmp_path):
    cfg = replace(tiny, cache_dir=str(tmp_path))
    messages: list[str] = []
    first = load_or_generate(cfg, log=messages.append)
    assert len(messages) == 1 and cache_path(cfg).exists()
    second = load_or_generate(cfg, log=messages.append)
    assert len(messages) == 1  # nothing generated the second time
    for split in ("train", "val"):
        np.testing.assert_array_equal(first[split].frames, second[split].frames)
        np.testing.assert_array_equal(first[split].boxes, second[split].boxes)
    assert first["train"].frames.shape[0] == 3 and first["val"].frames.shape[0] == 2
    assert not list(tmp_path.glob("*.partial"))


def test_cache_key_follows_the_data_not_the_cache_folder(tiny):
    assert cache_key(tiny) == cache_key(replace(tiny, cache_dir="/elsewhere"))
    assert cache_key(tiny) != cache_key(replace(tiny, noise_rate=0.01))


def test_cache_folder_defaults_to_the_environment(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPCTL_DATA_CACHE", str(tmp_path / "env-cache"))
    assert cache_path(tiny).parent == tmp_path / "env-cache"
    monkeypatch.delenv("EXPCTL_DATA_CACHE")
    assert cache_path(tiny).parent == Path(".cache/expctl-data")
