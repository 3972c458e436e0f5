"""TensorBoard event files: scalar series by tag, merged over every event file of a run.

tensorboard is imported inside the reader only: it is slow to import and only needed here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from expctl.metrics.series import reduce_index

EVENT_FILE_PREFIX = "events.out.tfevents."


def event_files(paths: list[Path]) -> list[Path]:
    """Event files among `paths`, looking inside folders."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob(EVENT_FILE_PREFIX + "*") if p.is_file())
        elif path.name.startswith(EVENT_FILE_PREFIX) and path.is_file():
            found.add(path)
    return sorted(found)


def read_scalars(files: list[Path], tags: set[str] | None
                 ) -> dict[str, list[tuple[float, int, float]]]:
    """tag -> [(wall_time, step, value)] sorted by time, over all files; `tags` None: every
    scalar tag found (the report's curves)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    series: dict[str, list[tuple[float, int, float]]] = {tag: [] for tag in tags or ()}
    for file in files:
        # EventFileLoader migrates old `simple_value` scalars to tensors, so one branch suffices.
        for event in EventFileLoader(str(file)).Load():
            for value in event.summary.value:
                if tags is not None and value.tag not in tags:
                    continue
                if value.HasField("tensor"):
                    array = tensor_util.make_ndarray(value.tensor)
                    if array.size != 1:
                        continue
                    number = float(array.reshape(-1)[0])
                elif value.HasField("simple_value"):
                    number = float(value.simple_value)
                else:
                    continue
                if not math.isnan(number):
                    series.setdefault(value.tag, []).append((event.wall_time, event.step, number))
    for points in series.values():
        points.sort()
    return series


def read_tensorboard(files: list[Path], tags: dict[str, str], reduce: str,
                     direction: Callable[[str], str]) -> dict[str, float]:
    """metric -> its tag's series reduced (last by time, or min/max/best)."""
    series = read_scalars(files, set(tags.values()))
    values: dict[str, float] = {}
    for metric, tag in tags.items():
        points = [v for _, _, v in series.get(tag, [])]
        if points:
            values[metric] = points[reduce_index(points, reduce, direction(metric))]
    return values
