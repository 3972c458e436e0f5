"""The COCO evaluation summary: 12 lines of AP and AR, one block per evaluation.

    Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.345
    ...
    Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 0.612

Lines are named by what they say (IoU, area, maxDets), not by position, so longer variants
(faster-coco-eval's extra AR@0.5 and AR@0.75 lines) parse too. Validation scripts often print
one block per class and then an `Overall` block; the overall numbers are the block after the
last line that says `Overall`. The per-class blocks before it
are numbered in order of appearance, so a class-group mean (e.g. small objects = classes 2,
3 and 4) can be computed from configuration, never from names in code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The 12 lines of pycocotools' summary, in its order, by the names expctl gives them.
COCO_KEYS = (
    "map", "ap50", "ap75", "map_small", "map_medium", "map_large",
    "ar1", "ar10", "ar100", "ar_small", "ar_medium", "ar_large",
)

_LINE = re.compile(
    r"Average\s+(?P<kind>Precision|Recall)\s+\((?:AP|AR)\)\s*@\[\s*IoU=(?P<iou>[\d.:]+)\s*\|\s*"
    r"area=\s*(?P<area>\w+)\s*\|\s*maxDets=\s*(?P<dets>\d+)\s*\]\s*=\s*(?P<value>-?[\d.]+(?:e-?\d+)?)"
)
_OVERALL = re.compile(r"\boverall\b", re.IGNORECASE)
_IOU_NAMES = {"0.50": "50", "0.5": "50", "0.75": "75"}


@dataclass
class CocoSummary:
    """The overall block and the per-class blocks printed before it."""

    overall: dict[str, float]
    per_class: list[dict[str, float]] = field(default_factory=list)


def line_key(match: re.Match) -> str | None:
    """The name of a summary line, from what it says rather than where it is, so variants
    with extra lines (faster-coco-eval's AR@0.5 and AR@0.75, LVIS's maxDets=300) parse too."""
    ap = match["kind"] == "Precision"
    iou, area = match["iou"], match["area"]
    if iou == "0.50:0.95":
        if area != "all":
            return f"{'map' if ap else 'ar'}_{area}"
        return "map" if ap else f"ar{match['dets']}"
    if area == "all" and iou in _IOU_NAMES:
        return f"{'ap' if ap else 'ar'}{_IOU_NAMES[iou]}"
    return None


def _blocks(lines: list[str]) -> list[tuple[int, dict[str, float]]]:
    """(index of the first line, values) of every summary block, in order.

    A block starts at its AP@[0.50:0.95, all] line, or when a name repeats. -1 means "no
    ground truth of that size" and is left out."""
    blocks: list[tuple[int, dict[str, float]]] = []
    current: dict[str, float] | None = None
    seen: set[str] = set()
    for index, line in enumerate(lines):
        match = _LINE.search(line)
        key = line_key(match) if match else None
        if key is None:
            continue
        if key == "map" or current is None or key in seen:
            current, seen = {}, set()
            blocks.append((index, current))
        seen.add(key)
        value = float(match["value"])
        if value >= 0:
            current[key] = value
    return blocks


def parse_coco(lines: list[str]) -> CocoSummary | None:
    """The overall summary (after the last `Overall` line, else the last block) and the
    per-class blocks before it; None when the text holds no summary at all."""
    blocks = _blocks(lines)
    if not blocks:
        return None
    last_overall = max((i for i, line in enumerate(lines)
                        if _OVERALL.search(line) and not _LINE.search(line)), default=None)
    if last_overall is not None:
        after = [b for b in blocks if b[0] > last_overall]
        if after:
            before = [values for start, values in blocks if start < last_overall]
            return CocoSummary(after[0][1], before)
    return CocoSummary(blocks[-1][1], [values for _, values in blocks[:-1]])


def group_mean(per_class: list[dict[str, float]], class_ids: list[int],
               key: str = "map") -> float | None:
    """The mean of `key` over the given per-class blocks (0-based, in printed order);
    None when any of them is missing, so a partial mean is never reported as the whole."""
    values = []
    for class_id in class_ids:
        if class_id >= len(per_class) or key not in per_class[class_id]:
            return None
        values.append(per_class[class_id][key])
    return sum(values) / len(values) if values else None
