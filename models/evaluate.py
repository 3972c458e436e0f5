"""Evaluate a checkpoint on the synthetic validation split: COCO metrics and confusion matrix.

    python -m models.evaluate checkpoint=out/checkpoints/ckpt_step0000300.pt \\
        [out_dir=DIR] [key=value ...]

The configuration is the one stored in the checkpoint; `key=value` overrides accept the same
keys as training (so a recipe can pass the same overrides to both), but any that would change
the architecture are rejected. Output:

- stdout: the 12-line COCO summary (faster-coco-eval), AP per class and `small_map`;
- `{out_dir}/validation_results/metrics.json`: flat keys map, ap50, ap75, map_small,
  map_medium, map_large, ar1, ar10, ar100, ar_small, ar_medium, ar_large, small_map,
  small_map_classes, ap_<class name>, step;
- `{out_dir}/confusion_matrices/confusion_matrix_eval_step{step:07d}.{png,json}`.

`small_map` is the mean AP over the class ids in `classes.small`. A class of the group with no
ground-truth box in the validation split has no AP (COCO reports -1); it is left out of the mean,
a warning naming it goes to stderr, and `small_map_classes` says how many classes were averaged
(-1 for small_map if none has ground truth). Per-class and area APs keep COCO's -1 for
"no ground truth".
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from faster_coco_eval import COCO, COCOeval_faster

from models.config import (
    Config,
    ConfigError,
    architecture_differences,
    exit_bad_config,
    merge_into_defaults,
    parse_config,
    resolve_out_dir,
)
from models.confusion import add_frame, save_confusion
from models.data import EventSplit, load_or_generate
from models.detector import Detector
from models.loss import xywh_to_xyxy
from models.postprocess import Detections, postprocess
from models.runtime import set_cpu_threads

SUMMARY_LINES = 12  # the classic COCO summary; faster-coco-eval adds AR@0.5 and AR@0.75 lines
GroundTruth = tuple[np.ndarray, np.ndarray]  # boxes (n, 4) x, y, w, h; labels (n,)


def frame_targets(split: EventSplit) -> list[GroundTruth]:
    """Ground truth per frame, sequence by sequence, frame by frame."""
    result = []
    for frame_boxes in split.boxes.reshape(-1, *split.boxes.shape[2:]):
        present = frame_boxes[:, 0] >= 0
        result.append((frame_boxes[present, 1:5], frame_boxes[present, 0].astype(int)))
    return result


def metric_key(name: str) -> str:
    """`ap_<name>` with the class name lower-cased and non-alphanumerics replaced."""
    return "ap_" + re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def coco_metrics(
    ground_truth: list[GroundTruth],
    detections: list[Detections],
    class_names: list[str],
    small_classes: list[int],
    small_area: float = 32.0**2,
    medium_area: float = 96.0**2,
    image_size: tuple[int, int] = (160, 96),
    warn: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
) -> tuple[dict[str, float], list[str]]:
    """COCO box metrics (faster-coco-eval) and the summary lines; one detection list per frame.

    Category ids are class id + 1 inside COCO (0 is avoided as an id); keys use class names.
    """
    width, height = image_size
    images = [{"id": i + 1, "width": width, "height": height} for i in range(len(ground_truth))]
    categories = [{"id": c + 1, "name": name} for c, name in enumerate(class_names)]
    annotations = []
    for image_id, (boxes, labels) in enumerate(ground_truth, start=1):
        for box, label in zip(boxes.tolist(), labels.tolist(), strict=True):
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": label + 1,
                "bbox": box, "area": box[2] * box[3], "iscrowd": 0,
            })
    results = []
    for image_id, dets in enumerate(detections, start=1):
        xywh = torch.cat([dets.boxes[:, :2], dets.boxes[:, 2:] - dets.boxes[:, :2]], dim=1)
        for box, score, label in zip(
            xywh.tolist(), dets.scores.tolist(), dets.labels.tolist(), strict=True
        ):
            results.append(
                {"image_id": image_id, "category_id": label + 1, "bbox": box, "score": score}
            )
    gt = COCO({"images": images, "categories": categories, "annotations": annotations})
    dt = gt.loadRes(results)
    lines: list[str] = []
    ranges = {
        "small": [0.0, small_area],
        "medium": [small_area, medium_area],
        "large": [medium_area, 1e5**2],
    }
    evaluator = COCOeval_faster(gt, dt, "bbox", ranges=ranges, print_function=lines.append)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    stats = evaluator.stats_as_dict
    metrics = {
        "map": stats["AP_all"], "ap50": stats["AP_50"], "ap75": stats["AP_75"],
        "map_small": stats["AP_small"], "map_medium": stats["AP_medium"],
        "map_large": stats["AP_large"],
        "ar1": stats["AR_all"], "ar10": stats["AR_second"], "ar100": stats["AR_third"],
        "ar_small": stats["AR_small"], "ar_medium": stats["AR_medium"],
        "ar_large": stats["AR_large"],
    }
    # precision: [iou thresholds, recall thresholds, classes, area ranges, max dets]
    precision = evaluator.eval["precision"][:, :, :, 0, -1]
    per_class = {}
    for c, name in enumerate(class_names):
        values = precision[:, :, c]
        per_class[c] = float(values[values > -1].mean()) if (values > -1).any() else -1.0
        metrics[metric_key(name)] = per_class[c]
    present = [c for c in small_classes if per_class[c] >= 0]
    missing = [class_names[c] for c in small_classes if per_class[c] < 0]
    if missing:
        warn(f"warning: small_map leaves out {', '.join(missing)}: no ground truth in this split")
    metrics["small_map"] = float(np.mean([per_class[c] for c in present])) if present else -1.0
    metrics["small_map_classes"] = len(present)
    summary = [line for line in lines if line.lstrip().startswith("Average")][:SUMMARY_LINES]
    return {k: float(v) if k != "small_map_classes" else v for k, v in metrics.items()}, summary


def confusion_matrix(
    ground_truth: list[GroundTruth],
    detections: list[Detections],
    num_classes: int,
    score_threshold: float,
    iou_threshold: float = 0.5,
) -> np.ndarray:
    """(C+1, C+1) counts over all frames; see models.confusion for the layout."""
    matrix = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for (gt_boxes, gt_labels), dets in zip(ground_truth, detections, strict=True):
        confident = dets.scores >= score_threshold
        add_frame(
            matrix,
            xywh_to_xyxy(torch.from_numpy(gt_boxes)).numpy(),
            gt_labels,
            dets.boxes[confident].numpy(),
            dets.scores[confident].numpy(),
            dets.labels[confident].numpy(),
            iou_threshold,
        )
    return matrix


@torch.no_grad()
def predict_split(
    model: Detector, split: EventSplit, cfg: Config, device: torch.device
) -> list[Detections]:
    """Detections for every frame; each sequence runs start to end with its LSTM state carried."""
    was_training = model.training
    model.eval()
    height, width = split.frames.shape[-2:]
    anchors = model.anchors(height, width, device)
    detections = []
    for first in range(0, len(split.frames), cfg.eval.batch_size):
        frames = torch.from_numpy(split.frames[first : first + cfg.eval.batch_size]).to(device)
        raw, _ = model(frames)
        detections += postprocess(
            raw.flatten(0, 1), anchors, cfg.eval.score_threshold, cfg.eval.nms_iou,
            cfg.eval.max_dets, cfg.eval.pre_nms_topk,
        )
    model.train(was_training)
    return detections


def evaluate_model(
    model: Detector,
    split: EventSplit,
    cfg: Config,
    device: torch.device,
    confusion_dir: Path | None = None,
    confusion_stem: str = "confusion_matrix",
) -> tuple[dict[str, float], list[str]]:
    """Metrics and COCO summary lines of `model` on `split`; saves the confusion matrix if asked."""
    detections = predict_split(model, split, cfg, device)
    ground_truth = frame_targets(split)
    metrics, summary = coco_metrics(
        ground_truth, detections, cfg.classes.names, cfg.classes.small,
        cfg.eval.small_area, cfg.eval.medium_area, (cfg.data.width, cfg.data.height),
    )
    if confusion_dir is not None:
        matrix = confusion_matrix(
            ground_truth, detections, len(cfg.classes.names), cfg.eval.confusion_score
        )
        save_confusion(matrix, cfg.classes.names, confusion_dir, confusion_stem)
    return metrics, summary


def load_checkpoint(path: str) -> dict:
    """A checkpoint written by models.train (plain tensors and config only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def parse_args(argv: list[str]) -> tuple[str, Config, dict]:
    """`checkpoint=PATH` plus config overrides -> (path, config, checkpoint); ConfigError if bad."""
    paths = [a.partition("=")[2] for a in argv if a.startswith("checkpoint=")]
    overrides = [a for a in argv if not a.startswith("checkpoint=")]
    if len(paths) != 1 or not paths[0]:
        raise ConfigError("give exactly one `checkpoint=PATH`")
    if not Path(paths[0]).is_file():
        raise ConfigError(f"checkpoint `{paths[0]}` does not exist")
    # Check the overrides against the defaults first, so a typo is reported before loading.
    parse_config(overrides)
    checkpoint = load_checkpoint(paths[0])
    stored = merge_into_defaults(checkpoint["config"])
    cfg = parse_config(overrides, base=stored)
    changed = architecture_differences(stored, cfg.to_dict())
    if changed:
        raise ConfigError(
            f"`{changed[0]}` differs from the checkpoint's configuration; "
            "the architecture cannot change at evaluation"
        )
    return paths[0], cfg, checkpoint


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; see the module docstring."""
    try:
        path, cfg, checkpoint = parse_args(list(sys.argv[1:] if argv is None else argv))
    except ConfigError as error:
        exit_bad_config(error)
    set_cpu_threads(cfg.train.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = Detector(cfg).to(device)
    model.load_state_dict(checkpoint["model"])
    step = int(checkpoint["step"])
    out_dir = Path(resolve_out_dir(cfg))
    split = load_or_generate(cfg.data, splits=("val",))["val"]
    print(f"evaluating {path} (step {step}) on {split.num_frames} validation frames", flush=True)
    metrics, summary = evaluate_model(
        model, split, cfg, device, out_dir / "confusion_matrices",
        f"confusion_matrix_eval_step{step:07d}",
    )
    print("\n".join(summary))
    for c, name in enumerate(cfg.classes.names):
        print(f"AP {name:<12} (class {c}) = {metrics[metric_key(name)]:0.3f}")
    small = ", ".join(str(c) for c in cfg.classes.small)
    print(f"small_map (classes {small}) = {metrics['small_map']:0.3f}")
    metrics["step"] = step
    results = out_dir / "validation_results" / "metrics.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"metrics: {results}", flush=True)


if __name__ == "__main__":
    main()
