"""Regular expressions over a log: the last match wins, its first group is the value."""

from __future__ import annotations

import re

from expctl.errors import BadInputError


def compile_pattern(metric: str, pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise BadInputError(
            f"Metric `{metric}`: invalid regular expression `{pattern}`: {exc}."
        ) from None


def read_regex(lines: list[str], patterns: dict[str, str]) -> dict[str, float]:
    """metric -> the number captured by the last line its pattern matches.

    The value is the first group (the whole match when there are no groups); a match whose
    text is not a number (or is NaN) is skipped, so `loss=nan` never becomes a metric."""
    compiled = {m: compile_pattern(m, p) for m, p in patterns.items()}
    values: dict[str, float] = {}
    for metric, regex in compiled.items():
        for line in reversed(lines):
            found = None
            for match in regex.finditer(line):
                found = match  # the last match on the line
            if found is None:
                continue
            text = found.group(1) if regex.groups else found.group(0)
            try:
                number = float(text)
            except (TypeError, ValueError):
                continue
            if number != number:  # NaN: a diverged step is not a result
                continue
            values[metric] = number
            break
    return values
