"""The confirmation that commands deleting things ask for: a prompt on a terminal, `--yes`
to skip it, and a refusal without a terminal (a script must say --yes)."""

from __future__ import annotations

import sys

YES_HELP = "Do not ask for confirmation (needed when stdin is not a terminal)."


def confirm(question: str, yes: bool, what: str) -> None:
    """Return when confirmed; raise ExpctlError otherwise (nothing has been changed yet).
    `what` names the change for the messages, e.g. "remove 2 runs"."""
    from expctl.errors import BadInputError, ExpctlError

    if yes:
        return
    if sys.stdin is None or not sys.stdin.isatty():
        raise BadInputError(f"Refusing to {what} without confirmation: stdin is not a terminal.",
                            hint="pass --yes to confirm, or --dry-run to see what would change")
    from expctl import console

    answer = console.ask(f"{question} [y/N] ")
    if answer.lower() not in ("y", "yes"):
        raise ExpctlError(f"Not confirmed: did not {what}.")
