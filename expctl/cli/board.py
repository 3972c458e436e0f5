"""Commands: board (see module docstring of expctl.cli.app for import rules)."""

from __future__ import annotations

from expctl.cli.app import app  # noqa: F401
