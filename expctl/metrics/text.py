"""Turning a raw console log into the lines a person would have read.

A raw log keeps everything a terminal would have hidden: tqdm redraws its bar with carriage
returns (`\\r 50%|#####     | 5/10 [...]`), a line printed while a bar is showing is glued to
the bar's text, and coloured output carries ANSI escape codes. Parsers work on the cleaned
lines, so a metric line is found wherever it landed in the stream.
"""

from __future__ import annotations

import re
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")

# A tqdm/Lightning bar: `desc: 50%|#####     | 5/10 [00:01<00:01, 4.95it/s, loss=0.3]`.
# The description is optional and only taken at the start of a segment (tqdm always redraws
# from column 0), so real text before a bar is never eaten; counts may be `?` or carry k/M/G.
_BAR = re.compile(
    r"(?:^[^\r\n|%:]{0,80}:)?\s*\d{1,3}%\|[^|\r\n]*\|\s*"
    r"[\d.]+[kMG]?(?:/(?:[\d.]+[kMG]?|\?))?\s*(?:\[[^\]\r\n]*\])?"
)


def strip_progress(segment: str) -> str:
    """The segment without any progress bars in it (what remains is real output)."""
    return _BAR.sub("", segment)


def clean_lines(text: str) -> list[str]:
    """Logical lines of a raw log: ANSI codes removed, every carriage-return segment that is
    not a progress bar kept as its own line, progress bars glued to real text cut away."""
    text = _ANSI.sub("", text).replace("\r\n", "\n")
    lines: list[str] = []
    for physical in text.split("\n"):
        for segment in physical.split("\r"):
            # Each \r-segment is something that was on screen once; a terminal would overwrite
            # it, but a real line printed between two redraws must not be lost.
            kept = strip_progress(segment).rstrip()
            if kept.strip():
                lines.append(kept)
    return lines


def read_lines(path: Path) -> list[str]:
    """The cleaned lines of a log file (undecodable bytes replaced, never an error)."""
    return clean_lines(path.read_text(encoding="utf-8", errors="replace"))
