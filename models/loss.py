"""Target assignment and the detection loss (objectness, class, GIoU box), optionally size-aware.

Assignment is deliberately simple and predictable on short runs: each ground-truth box goes to
the finest pyramid level whose stride x `head.scale_ratio` covers its long side, and the grid
cells of that level whose centres lie within `head.center_radius` strides of the box centre
become its positives (a cell claimed by two boxes takes the smaller one, as in FCOS). This
replaces YOLOX's SimOTA; the head itself is YOLOX's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.config import Config
from models.detector import decode_boxes


def xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) x, y, w, h -> x1, y1, x2, y2."""
    return torch.cat([boxes[..., :2], boxes[..., :2] + boxes[..., 2:4]], dim=-1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of xyxy boxes: (n, 4) x (m, 4) -> (n, m)."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp(min=1e-9)


def paired_iou(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """IoU and generalised IoU of matching xyxy boxes (n, 4), (n, 4) -> (n,), (n,)."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    inter = (torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])).clamp(min=0)
    inter = inter.prod(dim=1)
    union = area_a + area_b - inter
    iou = inter / union.clamp(min=1e-9)
    hull = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).prod(dim=1)
    return iou, iou - (hull - union) / hull.clamp(min=1e-9)


def assign_targets(
    anchors: torch.Tensor, targets: torch.Tensor, center_radius: float, scale_ratio: float
) -> torch.Tensor:
    """Index of the matched target per cell, (N, cells), or -1 for background.

    anchors: (cells, 3) centre x, centre y, stride. targets: (N, M, 5) class, x, y, w, h with
    class -1 for padding.
    """
    valid = targets[..., 0] >= 0  # (N, M)
    centre = targets[..., 1:3] + targets[..., 3:5] / 2
    long_side = targets[..., 3:5].amax(dim=-1)
    strides = torch.unique(anchors[:, 2])  # ascending
    fits = strides * scale_ratio >= long_side[..., None]  # (N, M, levels)
    level = torch.where(fits.any(-1), fits.int().argmax(-1), len(strides) - 1)
    box_stride = strides[level]  # (N, M)
    reach = center_radius * anchors[None, :, None, 2]  # (1, cells, 1)
    offset = (anchors[None, :, None, :2] - centre[:, None, :, :]).abs()  # (N, cells, M, 2)
    candidate = (
        (anchors[None, :, None, 2] == box_stride[:, None, :])
        & (offset < reach[..., None]).all(dim=-1)
        & valid[:, None, :]
    )
    area = (targets[..., 3] * targets[..., 4])[:, None, :].expand_as(candidate)
    cost = torch.where(candidate, area, torch.full_like(area, float("inf")))
    best_cost, best = cost.min(dim=-1)
    return torch.where(torch.isfinite(best_cost), best, torch.full_like(best, -1))


def size_weights(areas: torch.Tensor, cfg: Config) -> torch.Tensor:
    """Per-box loss weight: 1, or 1 + size_weight * exp(-area / size_threshold) when size-aware."""
    if not cfg.loss.size_aware:
        return torch.ones_like(areas)
    return 1.0 + cfg.loss.size_weight * torch.exp(-areas / cfg.loss.size_threshold)


def detection_loss(
    raw: torch.Tensor, anchors: torch.Tensor, targets: torch.Tensor, cfg: Config
) -> dict[str, torch.Tensor]:
    """Losses of raw head outputs (N, cells, 5 + C) against targets (N, M, 5).

    Every term is summed and divided by the number of positive cells (as in YOLOX); with the
    size-aware option, positives of small boxes count more in all three terms.
    """
    raw = raw.float()
    matched = assign_targets(anchors, targets, cfg.head.center_radius, cfg.head.scale_ratio)
    positive = matched >= 0
    num_pos = positive.sum().clamp(min=1).float()
    gathered = torch.gather(
        targets, 1, matched.clamp(min=0)[..., None].expand(-1, -1, targets.shape[-1])
    )[positive]  # (P, 5)
    weights = size_weights(gathered[:, 3] * gathered[:, 4], cfg)

    pred_boxes = decode_boxes(raw, anchors)[positive]
    iou, giou = paired_iou(pred_boxes, xywh_to_xyxy(gathered[:, 1:5]))
    loss_box = cfg.loss.box_weight * ((1.0 - giou) * weights).sum() / num_pos
    # L1 on the raw offsets and log sizes sharpens localisation beyond what GIoU alone gives.
    cells = anchors[None].expand(positive.shape[0], -1, -1)[positive]  # (P, 3)
    centre = gathered[:, 1:3] + gathered[:, 3:5] / 2
    raw_target = torch.cat(
        [(centre - cells[:, :2]) / cells[:, 2:3],
         torch.log(gathered[:, 3:5].clamp(min=1e-3) / cells[:, 2:3])],
        dim=1,
    )
    loss_l1 = cfg.loss.l1_weight * (
        (raw[..., :4][positive] - raw_target).abs().sum(-1) * weights
    ).sum() / num_pos

    obj_target = positive.float()
    obj_weight = torch.ones_like(obj_target)
    obj_weight[positive] = weights
    loss_obj = F.binary_cross_entropy_with_logits(
        raw[..., 4], obj_target, weight=obj_weight, reduction="sum"
    ) / num_pos

    # As in YOLOX, the class target is scaled by the IoU of the predicted box, so that
    # objectness x class ranks well-placed boxes first (this is what COCO AP rewards).
    cls_logits = raw[..., 5:][positive]
    cls_target = F.one_hot(gathered[:, 0].long(), cls_logits.shape[-1]).float()
    cls_target = cls_target * iou.detach().clamp(min=0)[:, None]
    loss_cls = (
        F.binary_cross_entropy_with_logits(cls_logits, cls_target, reduction="none").sum(-1)
        * weights
    ).sum() / num_pos

    return {
        "loss": loss_obj + loss_cls + loss_box + loss_l1,
        "loss_obj": loss_obj.detach(),
        "loss_cls": loss_cls.detach(),
        "loss_box": (loss_box + loss_l1).detach(),
    }
