"""Lightning's end-of-validation table, as plain text or drawn by rich with box characters.

    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
    ┃      Validate metric      ┃       DataLoader 0        ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
    │          val/mAP          │    0.3401000201702118     │
    └───────────────────────────┴───────────────────────────┘

Without rich the same table is drawn with `─` rules and space-aligned columns. The last table
in the text wins (the final validation or test).
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"\b(Validate|Test|Predict)\s+metric\b")
_VERTICAL = "│┃║|"
_RULE_CHARS = set("─━═-=+┏┓┗┛┡┩┢┪┣┫┳┻╇╈┌┐└┘├┤┬┴┼╞╡╪╤╧╒╕╘╛╭╮╰╯ \t")
_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?(?:nan|inf)$", re.I)


def _is_rule(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and set(stripped) <= _RULE_CHARS


def _cells(line: str) -> list[str]:
    """The cells of a table row: split on box verticals when present, else on 2+ spaces."""
    if any(c in line for c in _VERTICAL):
        parts = re.split("[" + re.escape(_VERTICAL) + "]", line)
    else:
        parts = re.split(r"\s{2,}", line)
    return [p.strip() for p in parts if p.strip()]


def _table_at(lines: list[str], header: int) -> dict[str, float]:
    """Rows after the header line until the closing rule (or a line that is not a row)."""
    values: dict[str, float] = {}
    for line in lines[header + 1:]:
        if _is_rule(line):
            if values:  # the rule under the rows closes the table
                break
            continue
        cells = _cells(line)
        if len(cells) < 2 or not _NUMBER.match(cells[1]):
            if values:
                break
            continue
        # Several DataLoaders give several columns; the first one is the one reported.
        values[cells[0]] = float(cells[1])
    return values


def parse_lightning(lines: list[str]) -> dict[str, float] | None:
    """The metrics of the last Validate/Test metric table; None when there is none."""
    headers = [i for i, line in enumerate(lines) if _HEADER.search(line)]
    for header in reversed(headers):
        values = _table_at(lines, header)
        if values:
            return values
    return None
