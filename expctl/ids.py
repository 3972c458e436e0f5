"""Validation of names the user types: run ids, recipe names, dotted keys, metric names."""

from __future__ import annotations

import re

from expctl.errors import BadInputError

MAX_ID_LENGTH = 100
_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*")
_METRIC = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/@-]*")
ID_RULE = "letters, digits, `.`, `_` and `-`, at most 100 characters, not starting with `.` or `-`"


def check_run_id(value: str, what: str = "run id") -> str:
    """Accept a run id or raise a one-line error saying what is allowed."""
    if not value:
        raise BadInputError(f"Empty {what}.", hint=f"use {ID_RULE}")
    if len(value) > MAX_ID_LENGTH:
        raise BadInputError(
            f"{what.capitalize()} is {len(value)} characters long; at most {MAX_ID_LENGTH}.",
        )
    if not _ID.fullmatch(value) or value in (".", ".."):
        raise BadInputError(f"Invalid {what} `{_shown(value)}`.", hint=f"use {ID_RULE}")
    return value


def check_tag(value: str) -> str:
    """A tag for `expctl tag`: the characters of a run id, so it needs no quoting anywhere."""
    return check_run_id(value, "tag")


def check_recipe_name(value: str) -> str:
    return check_run_id(value, "recipe name")


def check_key(value: str, what: str = "key") -> str:
    """A dotted key such as `train.max_steps`."""
    if not _KEY.fullmatch(value or ""):
        raise BadInputError(
            f"Invalid {what} `{_shown(value)}`.",
            hint="use dotted names of letters, digits, `_` and `-`, e.g. train.max_steps",
        )
    return value


def check_metric_name(value: str) -> str:
    if not _METRIC.fullmatch(value or "") or len(value) > 200:
        raise BadInputError(
            f"Invalid metric name `{_shown(value)}`.",
            hint="use letters, digits and `_ . : / @ -`, starting with a letter or `_`",
        )
    return value


def _shown(value: str) -> str:
    """The value as it can be printed on one line."""
    text = value.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 60 else text[:57] + "..."
