"""Evaluation of the built-in example: COCO metrics, small_map, confusion matrix, NMS."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.confusion import add_frame  # noqa: E402
from models.evaluate import coco_metrics, confusion_matrix  # noqa: E402
from models.loss import box_iou  # noqa: E402
from models.postprocess import Detections, batched_nms, nms  # noqa: E402

NAMES = ["Car", "Truck", "Motorcycle", "Bicycle", "Pedestrian", "Bus", "Static", "Other"]
# COCO interpolates precision at 101 recall points; a class whose detections reach recall 0.5
# at precision 1 and never more scores 1 at the 51 points 0.00-0.50 and 0 at the other 50.
HALF_RECALL_AP = 51 / 101


def gt_frame(boxes_xywh: list[list[float]], labels: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(boxes_xywh, dtype=np.float32).reshape(-1, 4), np.asarray(labels, dtype=int)


def detections(boxes_xywh: list[list[float]], scores: list[float], labels: list[int]) -> Detections:
    xywh = torch.tensor(boxes_xywh, dtype=torch.float32).reshape(-1, 4)
    xyxy = torch.cat([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], dim=1)
    return Detections(xyxy, torch.tensor(scores), torch.tensor(labels, dtype=torch.long))


def perfect(ground_truth: list[tuple[np.ndarray, np.ndarray]]) -> list[Detections]:
    return [detections(b.tolist(), [0.9] * len(b), c.tolist()) for b, c in ground_truth]


def metrics_of(ground_truth, dets, small=(2, 3, 4)):
    metrics, summary = coco_metrics(
        ground_truth, dets, NAMES, list(small), 64.0, 576.0, (160, 96), warn=lambda m: None
    )
    return metrics, summary


@pytest.fixture
def scene() -> list[tuple[np.ndarray, np.ndarray]]:
    """Two frames with every class present, in all three area ranges."""
    return [
        gt_frame([[2, 2, 20, 10], [40, 5, 40, 18], [90, 5, 10, 7], [110, 5, 10, 8]], [0, 1, 2, 3]),
        gt_frame([[3, 30, 4, 10], [20, 40, 60, 22], [90, 40, 12, 12], [120, 40, 14, 14]],
                 [4, 5, 6, 7]),
    ]


def test_ground_truth_as_predictions_gives_ap_one(scene):
    metrics, summary = metrics_of(scene, perfect(scene))
    for key in ("map", "ap50", "ap75", "small_map", "map_small", "map_medium", "map_large"):
        assert metrics[key] == pytest.approx(1.0), key
    assert all(metrics[f"ap_{name.lower()}"] == pytest.approx(1.0) for name in NAMES)
    assert metrics["small_map_classes"] == 3


def test_summary_is_the_12_line_coco_block(scene):
    _, summary = metrics_of(scene, perfect(scene))
    assert len(summary) == 12
    assert summary[0].strip() == (
        "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000"
    )
    assert summary[-1].lstrip().startswith("Average Recall     (AR) @[ IoU=0.50:0.95 | area= large")


def test_hand_computed_ap_for_one_hit_and_one_false_alarm():
    ground_truth = [gt_frame([[10, 10, 20, 10], [60, 40, 20, 10]], [0, 0])]
    # The first box found exactly (score 0.9), a false alarm elsewhere (0.8), the second missed.
    dets = [detections([[10, 10, 20, 10], [120, 70, 20, 10]], [0.9, 0.8], [0, 0])]
    metrics, _ = metrics_of(ground_truth, dets)
    assert metrics["ap_car"] == pytest.approx(HALF_RECALL_AP)
    assert metrics["map"] == pytest.approx(HALF_RECALL_AP)  # the only class with ground truth
    assert metrics["ar100"] == pytest.approx(0.5)


def test_small_map_averages_exactly_the_configured_classes():
    # Class 0 found perfectly, class 1 half found, class 2 only a false alarm.
    ground_truth = [gt_frame([[10, 10, 20, 10], [50, 10, 20, 10], [90, 10, 20, 10],
                              [10, 50, 20, 10]], [0, 1, 1, 2])]
    dets = [detections([[10, 10, 20, 10], [50, 10, 20, 10], [130, 70, 10, 10]],
                       [0.9, 0.9, 0.9], [0, 1, 2])]
    per_class = {0: 1.0, 1: HALF_RECALL_AP, 2: 0.0}
    for group in ([0], [1], [2], [0, 1], [1, 2], [0, 1, 2]):
        metrics, _ = metrics_of(ground_truth, dets, small=group)
        expected = sum(per_class[c] for c in group) / len(group)
        assert metrics["small_map"] == pytest.approx(expected), group
        assert metrics["small_map_classes"] == len(group)


def test_small_map_leaves_out_absent_classes_loudly():
    ground_truth = [gt_frame([[10, 10, 20, 10]], [2])]
    warnings: list[str] = []
    metrics, _ = coco_metrics(ground_truth, perfect(ground_truth), NAMES, [2, 3], 64.0, 576.0,
                              warn=warnings.append)
    assert metrics["small_map"] == pytest.approx(1.0)
    assert metrics["small_map_classes"] == 1
    assert warnings == ["warning: small_map leaves out Bicycle: no ground truth in this split"]


def test_no_detections_gives_zero_not_an_error(scene):
    empty = [detections([], [], []) for _ in scene]
    metrics, _ = metrics_of(scene, empty)
    assert metrics["map"] == 0.0 and metrics["small_map"] == 0.0


def test_confusion_matrix_counts_a_constructed_case():
    car, bicycle, pedestrian, bus, background = 0, 3, 4, 5, 8
    ground_truth = [gt_frame([[10, 10, 20, 10], [50, 10, 4, 10], [80, 40, 60, 20]],
                             [car, pedestrian, bus])]
    dets = [detections(
        [[10, 10, 20, 10],  # the car, right class
         [50, 10, 4, 10],  # the pedestrian, called a bicycle
         [120, 80, 20, 10],  # nothing there: a false alarm
         [80, 40, 60, 20]],  # the bus, but below the confusion score: the bus counts as missed
        [0.9, 0.8, 0.7, 0.1], [car, bicycle, car, bus])]
    matrix = confusion_matrix(ground_truth, dets, len(NAMES), score_threshold=0.3)
    expected = np.zeros((9, 9), dtype=int)
    expected[car, car] = 1
    expected[pedestrian, bicycle] = 1
    expected[background, car] = 1
    expected[bus, background] = 1
    np.testing.assert_array_equal(matrix, expected)


def test_confusion_matching_needs_iou_half_and_uses_each_box_once():
    matrix = np.zeros((3, 3), dtype=int)
    gt = np.array([[0, 0, 10, 10]], dtype=float)
    # Two detections on one box: the better-scored takes it, the other is a false alarm;
    # a third overlaps by IoU 1/3 only.
    dets = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [5, 0, 15, 10]], dtype=float)
    add_frame(matrix, gt, np.array([0]), dets, np.array([0.5, 0.9, 0.8]), np.array([1, 0, 0]))
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 0, 0], [1, 1, 0]])


def greedy_nms_reference(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> list[int]:
    """The textbook loop, for comparison."""
    order = scores.argsort(descending=True).tolist()
    kept: list[int] = []
    for i in order:
        if all(box_iou(boxes[i : i + 1], boxes[k : k + 1]).item() <= threshold for k in kept):
            kept.append(i)
    return kept


def test_nms_matches_greedy_reference_on_random_boxes():
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        corners = torch.rand(60, 2, generator=generator) * 50
        sizes = torch.rand(60, 2, generator=generator) * 20 + 2
        boxes = torch.cat([corners, corners + sizes], dim=1)
        scores = torch.rand(60, generator=generator)
        assert nms(boxes, scores, 0.5).tolist() == greedy_nms_reference(boxes, scores, 0.5)


def test_batched_nms_only_suppresses_within_a_class():
    boxes = torch.tensor([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    labels = torch.tensor([0, 0, 1])
    assert sorted(batched_nms(boxes, scores, labels, 0.5).tolist()) == [0, 2]
