"""The COCO evaluation summary: 12 lines of AP and AR, one block per evaluation.

    Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.345
    ...
    Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 0.612

Lines are named by what they say (IoU, area, maxDets), not by position, so longer variants
(faster-coco-eval's extra AR@0.5 and AR@0.75 lines) parse too. Validation scripts often print
one block per class and then an `Overall` block; the overall numbers are the block after the
last line that says `Overall`. Each per-class block before it takes the class id printed in
the nearest header line above it (CLASS_ID_FORMS); when not every block has one, the blocks are
numbered in order of appearance from 0 instead. A class-group mean (e.g. small objects =
classes 2, 3 and 4) is then computed from configuration, never from names in code.
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
# Headers that name a per-class block's class id, tried in this order on each line above it.
CLASS_ID_FORMS = (
    ("Class id - [3] No. of instances - 9412", r"\bclass[ _-]?id\s*[-:=#]?\s*\[?\s*(\d+)"),
    ("category_id: 3, Category 3", r"\bcategory(?:[ _-]?id)?\s*[-:=#]?\s*\[?\s*(\d+)"),
    ("Class: 3, Class 3 (Pedestrian), class=3", r"\bclass\s*[-:=#]?\s*\[?\s*(\d+)"),
    ("[3] Pedestrian", r"^\s*\[\s*(\d+)\s*\]"),
)
_CLASS_IDS = [re.compile(pattern, re.IGNORECASE) for _, pattern in CLASS_ID_FORMS]
POSITIONAL = "positional"  # how per-class blocks were numbered: by print order from 0
PRINTED_IDS = "printed ids"  # by the class ids in their headers
_IOU_NAMES = {"0.50": "50", "0.5": "50", "0.75": "75"}


@dataclass
class CocoSummary:
    """The overall block and the per-class blocks printed before it."""

    overall: dict[str, float]
    per_class: list[dict[str, float]] = field(default_factory=list)
    class_ids: list[int | None] = field(default_factory=list)  # printed in each block's header

    @property
    def numbering(self) -> str:
        """PRINTED_IDS when every per-class block named its class id, else POSITIONAL."""
        if self.class_ids and all(i is not None for i in self.class_ids):
            return PRINTED_IDS
        return POSITIONAL

    def by_class(self) -> dict[int, dict[str, float]]:
        """class id -> its block, by printed id (a later block of an id wins) or by order."""
        if self.numbering == POSITIONAL:
            return dict(enumerate(self.per_class))
        return dict(zip(self.class_ids, self.per_class, strict=True))


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
    per-class blocks before it with their printed ids; None when the text holds no summary."""
    blocks = _blocks(lines)
    if not blocks:
        return None
    last_overall = max((i for i, line in enumerate(lines)
                        if _OVERALL.search(line) and not _LINE.search(line)), default=None)
    overall_at = len(blocks) - 1
    if last_overall is not None:
        after = [n for n, (start, _) in enumerate(blocks) if start > last_overall]
        if after:
            overall_at = after[0]
    ids = [_header_id(lines, blocks[n - 1][0] if n else 0, blocks[n][0])
           for n in range(overall_at)]
    return CocoSummary(blocks[overall_at][1], [values for _, values in blocks[:overall_at]], ids)


def _header_id(lines: list[str], start: int, end: int) -> int | None:
    """The class id in the nearest header line above a block (between the previous block's
    start and this one's), or None."""
    for line in reversed(lines[start:end]):
        if _LINE.search(line) or _OVERALL.search(line):
            continue
        for form in _CLASS_IDS:
            found = form.search(line)
            if found:
                return int(found.group(1))
    return None


@dataclass
class GroupMean:
    """A class group's mean and the class ids asked for that the output does not give."""

    value: float | None
    missing: list[int]


def group_mean(by_class: dict[int, dict[str, float]], class_ids: list[int],
               key: str = "map", missing: str = "skip") -> GroupMean:
    """The mean of `key` over the given classes. With ids missing from the output, `skip`
    leaves the group unmeasured (a partial mean is never the whole) and `mean_present`
    averages the classes that are there."""
    values, absent = [], []
    for class_id in class_ids:
        block = by_class.get(class_id)
        if block is None or key not in block:
            absent.append(class_id)
        else:
            values.append(block[key])
    if not values or (absent and missing == "skip"):
        return GroupMean(None, absent)
    return GroupMean(sum(values) / len(values), absent)
