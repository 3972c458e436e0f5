"""From raw head outputs to detections: scores, top-k, class-wise NMS (pure torch)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models.detector import decode_boxes
from models.loss import box_iou


@dataclass
class Detections:
    """Detections of one frame, on the CPU."""

    boxes: torch.Tensor  # (n, 4) x1, y1, x2, y2 in pixels
    scores: torch.Tensor  # (n,)
    labels: torch.Tensor  # (n,) class ids


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the boxes greedy NMS keeps, best score first.

    Greedy NMS keeps a box when no kept, higher-scoring box overlaps it by more than the
    threshold. That rule is a fixed point, computed here with matrix operations: starting
    from "keep all", each pass settles at least one more box in score order, and in practice
    a handful of passes suffice.
    """
    order = scores.argsort(descending=True)
    boxes = boxes[order]
    overlaps = torch.triu(box_iou(boxes, boxes) > iou_threshold, diagonal=1)  # [i, j]: i beats j
    keep = torch.ones(len(boxes), dtype=torch.bool, device=boxes.device)
    for _ in range(len(boxes)):
        suppressed = (overlaps & keep[:, None]).any(dim=0)
        if torch.equal(~suppressed, keep):
            break
        keep = ~suppressed
    return order[keep]


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """NMS within each class only: boxes of different classes are shifted apart first."""
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    shift = labels.to(boxes.dtype)[:, None] * (boxes.max() - boxes.min() + 1)
    return nms(boxes + shift, scores, iou_threshold)


def postprocess(
    raw: torch.Tensor,
    anchors: torch.Tensor,
    score_threshold: float,
    nms_iou: float,
    max_dets: int,
    pre_nms_topk: int = 1000,
) -> list[Detections]:
    """Raw predictions (N, cells, 5 + C) -> one Detections per frame.

    Every (cell, class) pair is a candidate scored objectness x class probability, so a cell
    unsure between two classes can propose both (this raises recall and COCO AP).
    """
    raw = raw.float()
    boxes = decode_boxes(raw, anchors)
    scores = torch.sigmoid(raw[..., 4:5]) * torch.sigmoid(raw[..., 5:])  # (N, cells, C)
    num_classes = scores.shape[-1]
    results = []
    for frame_boxes, frame_scores in zip(boxes, scores, strict=True):
        flat = frame_scores.flatten()
        top_scores, top = flat.topk(min(pre_nms_topk, flat.numel()))
        selected = top_scores >= score_threshold
        top_scores, top = top_scores[selected], top[selected]
        cand_boxes = frame_boxes[top // num_classes]
        cand_labels = top % num_classes
        keep = batched_nms(cand_boxes, top_scores, cand_labels, nms_iou)[:max_dets]
        results.append(
            Detections(cand_boxes[keep].cpu(), top_scores[keep].cpu(), cand_labels[keep].cpu())
        )
    return results
