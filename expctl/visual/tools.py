"""The optional packages behind pictures: a clear exit 6 with the install command when absent."""

from __future__ import annotations

import importlib.util

from expctl.errors import MissingToolError

INSTALL = "pip install 'expctl[report]'"


def require(module: str, install: str = INSTALL) -> None:
    """Raise MissingToolError unless `module` can be imported."""
    if importlib.util.find_spec(module) is None:
        raise MissingToolError(f"`{module}` is not installed.", hint=f"install it: {install}")
