"""`expctl clean_trees`. Keep expensive imports inside the command (see expctl.cli.app)."""

from __future__ import annotations

import typer

from expctl.cli.app import command_app, get_workspace

app = command_app()  # this module's command, built when it runs


@app.command("clean-trees")
def clean_trees_cmd(
    run_ids: list[str] = typer.Argument(None, help="Runs whose trees to remove (default: every "
                                        "tree that may go).", show_default=False),
) -> None:
    """Remove the private working trees of runs done with them.

    Remove the private working trees of runs that are done with them: finished, gathered
    and recorded (and trees of deleted runs). Others are kept, each with the reason."""
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
