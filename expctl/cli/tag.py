"""`expctl tag`: add or remove tags of a run. Implementation: expctl.annotations."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import run_argument

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl tag 4scale_enhanced_100k paper best-small
  expctl tag 4scale_enhanced_100k best-small --remove
  expctl ls --tag paper
"""


@app.command("tag", epilog=EXAMPLES)
def tag_cmd(
    run: str = run_argument("Run id.", required=True),
    tags: list[str] = typer.Argument(..., metavar="TAG...", help="Tags to add (or remove): "
                                     "letters, digits, `.`, `_` and `-`.", show_default=False),
    remove: bool = typer.Option(False, "--remove", help="Remove these tags instead."),
) -> None:
    """Tag a run, or remove its tags.

    Tags are kept in the run's annotations.yaml (so `reindex` keeps them), shown by ls and
    show, filtered by `--tag`, and keep a run's checkpoints from `gc`."""
    from expctl import console
    from expctl.annotations import change_tags
    from expctl.registry import index_runs, open_registry
    from expctl.runs import load_run

    ws = get_workspace()
    r = load_run(ws, run)
    with open_registry(ws) as db:  # a broken registry is refused before the folder changes
        added, removed = ([], tags) if remove else (tags, [])
        now = change_tags(r, added, removed, then=lambda: index_runs(ws, [r.id], db))
    console.success(f"{r.id}: tags {', '.join(now) if now else '(none)'}")
