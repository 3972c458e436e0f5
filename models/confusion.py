"""Detection confusion matrices: counting by IoU matching, and saving as PNG and JSON.

Layout: rows are ground-truth classes, columns predicted classes; the last row and column are
"background". Cell [g, p] counts ground-truth boxes of class g matched to a detection of class p;
[g, background] counts missed boxes; [background, p] counts detections matching no box.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes (n, 4) x (m, 4)."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(-1)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def add_frame(
    matrix: np.ndarray,
    gt_boxes: np.ndarray,
    gt_labels: np.ndarray,
    det_boxes: np.ndarray,
    det_scores: np.ndarray,
    det_labels: np.ndarray,
    iou_threshold: float = 0.5,
) -> None:
    """Count one frame into `matrix` ((C+1, C+1), background last); boxes are xyxy.

    Detections are taken best score first; each matches the unmatched ground-truth box of any
    class with the highest IoU, if that IoU is at least the threshold, so that a right box with
    the wrong class shows up as a confusion rather than as a miss plus a false alarm.
    """
    background = matrix.shape[0] - 1
    gt_free = np.ones(len(gt_boxes), dtype=bool)
    ious = _iou_matrix(det_boxes.reshape(-1, 4), gt_boxes.reshape(-1, 4))
    for d in np.argsort(-det_scores, kind="stable"):
        candidates = np.where(gt_free, ious[d], -1.0)
        g = int(np.argmax(candidates)) if len(gt_boxes) else -1
        if g >= 0 and candidates[g] >= iou_threshold:
            gt_free[g] = False
            matrix[int(gt_labels[g]), int(det_labels[d])] += 1
        else:
            matrix[background, int(det_labels[d])] += 1
    for g in np.flatnonzero(gt_free):
        matrix[int(gt_labels[g]), background] += 1


def save_confusion(matrix: np.ndarray, class_names: list[str], folder: Path, stem: str) -> Path:
    """Write `{stem}.json` (counts and labels) and `{stem}.png` into folder; return the PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = [*class_names, "background"]
    payload = {
        "rows": "ground truth",
        "columns": "prediction",
        "labels": labels,
        "matrix": matrix.astype(int).tolist(),
    }
    (folder / f"{stem}.json").write_text(json.dumps(payload, indent=1) + "\n")
    png = folder / f"{stem}.png"
    render_png(matrix, labels).save(png)
    return png


def _colour(value: float) -> tuple[int, int, int]:
    """White (0) to dark blue (1)."""
    value = float(np.clip(value, 0.0, 1.0))
    return (int(255 - 225 * value), int(255 - 180 * value), int(255 - 90 * value))


def render_png(matrix: np.ndarray, labels: list[str], cell: int = 44) -> Image.Image:
    """The matrix as an image: cells shaded by row-normalised share, with counts and a scale."""
    n = len(labels)
    font = ImageFont.load_default(size=11)
    margin_left, margin_top, scale_width = 90, 90, 60
    width = margin_left + n * cell + scale_width + 20
    height = margin_top + n * cell + 40
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    row_totals = matrix.sum(axis=1, keepdims=True)
    shares = matrix / np.maximum(row_totals, 1)
    for r in range(n):
        for c in range(n):
            x0, y0 = margin_left + c * cell, margin_top + r * cell
            draw.rectangle(
                [x0, y0, x0 + cell, y0 + cell], fill=_colour(shares[r, c]), outline="grey"
            )
            text_fill = "white" if shares[r, c] > 0.55 else "black"
            draw.text((x0 + cell / 2, y0 + cell / 2), str(int(matrix[r, c])), fill=text_fill,
                      font=font, anchor="mm")
    for i, label in enumerate(labels):
        draw.text((margin_left - 6, margin_top + i * cell + cell / 2), label[:12], fill="black",
                  font=font, anchor="rm")
        # Column labels written vertically: render to a strip, rotate, paste.
        strip = Image.new("RGB", (margin_top - 8, cell), "white")
        ImageDraw.Draw(strip).text((2, cell / 2), label[:12], fill="black", font=font, anchor="lm")
        image.paste(strip.rotate(90, expand=True), (margin_left + i * cell, 4))
    draw.text((margin_left, height - 28), "rows: ground truth, columns: prediction "
              "(shade: share of the row)", fill="black", font=font)
    # Colour scale.
    x0 = margin_left + n * cell + 20
    for k in range(n * cell):
        draw.line([x0, margin_top + k, x0 + 14, margin_top + k], fill=_colour(1 - k / (n * cell)))
    draw.text((x0 + 18, margin_top), "1.0", fill="black", font=font, anchor="lm")
    draw.text((x0 + 18, margin_top + n * cell), "0.0", fill="black", font=font, anchor="lm")
    return image
