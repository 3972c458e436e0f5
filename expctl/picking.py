"""How a checkpoint is chosen among matching files: the step (then epoch) in its name, or its
modification time. Shared by gather (final_model.ckpt) and launch (`{last_checkpoint}`)."""

from __future__ import annotations

import re
from pathlib import Path

_STEP = re.compile(r"step[=_-]?(\d+)", re.IGNORECASE)
_EPOCH = re.compile(r"epoch[=_-]?(\d+)", re.IGNORECASE)


def step_of(path: Path) -> tuple[int, int]:
    """(step, epoch) parsed from a file name (`step=600`, `step_600`, `step0000600`,
    `epoch_0003`); -1 where absent."""
    step = _STEP.findall(path.name)
    epoch = _EPOCH.findall(path.name)
    return (int(step[-1]) if step else -1, int(epoch[-1]) if epoch else -1)


def rank(name: str, mtime_ns: int, pick: str) -> tuple:
    """How `pick` orders files. highest_step: a stale metric in the name (val_AP=0.32) never
    decides; ties go to the newer file, e.g. last_epoch=NNN-step=N.ckpt written after
    epoch=NNN-step=N-...ckpt."""
    name = Path(name).name
    if pick == "newest":
        return (mtime_ns, name)
    return (*step_of(Path(name)), mtime_ns, name)


def pick_files(files: list[Path], pick: str) -> list[Path]:
    """The one file `pick` (newest, highest_step) chooses, or all of them for `all`."""
    if pick == "all" or not files:
        return files
    return [max(files, key=lambda p: rank(p.name, p.stat().st_mtime_ns, pick))]
