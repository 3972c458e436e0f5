"""The detector of the built-in example: shapes, recurrence, assignment, size-aware loss."""

from __future__ import annotations

import math

import pytest
import torch

from models.config import parse_config  # noqa: E402
from models.detector import Detector, decode_boxes  # noqa: E402
from models.loss import assign_targets, detection_loss, size_weights  # noqa: E402

TINY = ["data.width=64", "data.height=64", "data.time_bins=2", "model.widths=[8, 8, 16, 16]",
        "fpn.width=16", "head.width=16"]


def tiny_model(*overrides: str) -> tuple[Detector, object]:
    cfg = parse_config([*TINY, *overrides])
    torch.manual_seed(0)
    return Detector(cfg), cfg


def calibrated(model: Detector, frames: torch.Tensor) -> Detector:
    """In eval mode with batch-norm statistics taken from `frames`, as after training.

    (Fresh running statistics would shrink every activation towards zero.)
    """
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(frames)
    return model.eval()


@pytest.mark.parametrize(("stages", "strides"), [("[2, 3, 4]", [8, 16, 32]),
                                                  ("[1, 2, 3, 4]", [4, 8, 16, 32])])
def test_pyramid_levels_follow_fpn_in_stages(stages, strides):
    model, _ = tiny_model(f"fpn.in_stages={stages}")
    raw, state = model(torch.zeros(2, 3, 4, 64, 64))
    cells = sum((64 // s) ** 2 for s in strides)
    assert raw.shape == (2, 3, cells, 5 + 8)
    anchors = model.anchors(64, 64, torch.device("cpu"))
    assert anchors.shape == (cells, 3)
    assert sorted(set(anchors[:, 2].tolist())) == strides
    assert len(state) == 4 and all(s is not None for s in state)


def test_lstm_state_carries_across_frames_and_calls():
    model, _ = tiny_model()
    frames = torch.rand(1, 4, 4, 64, 64) * 3
    calibrated(model, frames)
    with torch.no_grad():
        whole, _ = model(frames)
        first, state = model(frames[:, :2])
        rest, _ = model(frames[:, 2:], state)
        fresh, _ = model(frames[:, 2:])
    # Streaming in two calls with the state passed on equals one call over the whole clip...
    torch.testing.assert_close(torch.cat([first, rest], dim=1), whole, rtol=1e-4, atol=1e-4)
    # ...and differs from starting without memory.
    assert (rest - fresh).abs().max() > 1e-2


def test_without_lstm_frames_are_independent():
    model, _ = tiny_model("model.lstm_stages=[]")
    frames = torch.rand(1, 3, 4, 64, 64) * 3
    calibrated(model, frames)
    with torch.no_grad():
        whole, _ = model(frames)
        last, _ = model(frames[:, 2:])
    torch.testing.assert_close(whole[:, 2:], last, rtol=1e-4, atol=1e-4)


def test_small_boxes_go_to_the_finest_level_and_large_to_coarser():
    model, cfg = tiny_model("fpn.in_stages=[1, 2, 3, 4]")
    anchors = model.anchors(64, 64, torch.device("cpu"))
    targets = torch.tensor([[[4, 20, 20, 4, 10], [0, 2, 2, 60, 30], [-1, 0, 0, 0, 0]]],
                           dtype=torch.float32)
    matched = assign_targets(anchors, targets, cfg.head.center_radius, cfg.head.scale_ratio)[0]
    pedestrian = anchors[matched == 0]
    bus = anchors[matched == 1]
    assert len(pedestrian) > 0 and set(pedestrian[:, 2].tolist()) == {4.0}
    assert len(bus) > 0 and set(bus[:, 2].tolist()) == {16.0}
    assert not (matched == 2).any()  # padding never matches
    # Positives sit within center_radius strides of the box centre.
    assert ((pedestrian[:, :2] - torch.tensor([22.0, 25.0])).abs() < 1.5 * 4).all()


def test_size_aware_weights_favour_small_boxes_only_when_enabled():
    areas = torch.tensor([0.0, 40.0, 128.0, 2000.0])
    _, plain = tiny_model()
    _, aware = tiny_model("loss.size_aware=true", "loss.size_weight=2", "loss.size_threshold=128")
    assert size_weights(areas, plain).tolist() == [1.0, 1.0, 1.0, 1.0]
    weights = size_weights(areas, aware)
    assert weights[0].item() == pytest.approx(3.0)
    assert weights[2].item() == pytest.approx(1 + 2 / math.e)
    assert weights[3].item() == pytest.approx(1.0, abs=1e-6)
    assert (weights[:-1] > weights[1:]).all()


def test_loss_is_finite_and_lower_for_perfect_boxes():
    model, cfg = tiny_model()
    anchors = model.anchors(64, 64, torch.device("cpu"))
    targets = torch.tensor([[[0, 10, 12, 20, 10], [4, 40, 30, 4, 10]]], dtype=torch.float32)
    raw, _ = model(torch.rand(1, 1, 4, 64, 64))
    losses = detection_loss(raw.flatten(0, 1), anchors, targets, cfg)
    assert all(torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()
    assert model.head.levels[0].box_pred.weight.grad.abs().sum() > 0

    # Raw outputs that decode exactly onto the matched boxes leave only obj/cls terms.
    perfect = torch.zeros_like(raw.flatten(0, 1)).detach()
    matched = assign_targets(anchors, targets, cfg.head.center_radius, cfg.head.scale_ratio)[0]
    for cell in torch.nonzero(matched >= 0).flatten():
        _, x, y, w, h = targets[0, matched[cell]].tolist()
        stride = anchors[cell, 2]
        perfect[0, cell, 0] = (x + w / 2 - anchors[cell, 0]) / stride
        perfect[0, cell, 1] = (y + h / 2 - anchors[cell, 1]) / stride
        perfect[0, cell, 2] = torch.log(torch.tensor(w) / stride)
        perfect[0, cell, 3] = torch.log(torch.tensor(h) / stride)
    decoded = decode_boxes(perfect, anchors)[0, matched >= 0]
    assert decoded[:, 2:].gt(decoded[:, :2]).all()
    assert detection_loss(perfect, anchors, targets, cfg)["loss_box"].item() == pytest.approx(
        0.0, abs=1e-4
    )
