"""`expctl clean-trees`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

from expctl.cli.app import command_app, get_workspace
from expctl.cli.params import run_argument

app = command_app()  # this module's command, built when it runs


EXAMPLES = """Examples:

\b
  expctl clean-trees                        # every tree that may go
  expctl clean-trees 3scale_baseline_100k
"""


@app.command("clean-trees", epilog=EXAMPLES)
def clean_trees_cmd(
    run_ids: list[str] = run_argument("Runs whose trees to remove (default: every tree that "
                                      "may go).", many=True),
) -> None:
    """Remove the private working trees of runs done with them.

    A run is done with its tree when finished, gathered and recorded (trees of deleted runs
    go too); every other tree stays, with the reason. Gathered checkpoints stay."""
    from expctl import console
    from expctl.tree_cleanup import clean_trees

    ws = get_workspace()
    result = clean_trees(ws, run_ids or None)
    for run_id in result.removed:
        console.info(f"removed the tree of {run_id}")
    for run_id, why in result.kept.items():
        console.warn(f"kept the tree of {run_id}: {why}")
    console.success(f"removed {len(result.removed)} tree(s), freed "
                    f"{result.freed / 1e6:.1f} MB")
    if run_ids and result.kept:
        from expctl.errors import ConflictError

        raise ConflictError(f"Kept {len(result.kept)} of the trees named: their runs still "
                            "need them.")
