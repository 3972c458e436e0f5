"""A fresh code snapshot for a run that was never launched (`expctl snapshot RUN`).

`new` records the workspace's code (commit, git.patch, untracked files) and checks it out as
the run's private tree; a run launched later still runs that code. To run today's code
instead, before the first launch, this takes the snapshot again: run.yaml's git state,
git.patch, untracked.txt and the tree are replaced. A launched run keeps what it ran.
"""

from __future__ import annotations

from expctl.errors import ConflictError
from expctl.runs import GitState, Run, isolation_for, load_run, save_info
from expctl.state import run_state
from expctl.workspace import Workspace


def refresh_snapshot(ws: Workspace, run_id: str) -> Run:
    """Re-take run `run_id`'s git snapshot and rebuild its tree; only before its first launch."""
    from expctl.metrics.context import run_recipe
    from expctl.snapshot import git_snapshot
    from expctl.worktree import create_tree, remove_tree, write_git_files

    run = load_run(ws, run_id)
    state = run_state(run)
    if state != "created":
        raise ConflictError(
            f"Run `{run.id}` is {state}: its snapshot is what its jobs ran with.",
            hint="to run the workspace's current code, create a new run with `expctl new`",
        )
    recipe = run_recipe(run)
    git = git_snapshot(ws.root, exclude=(ws.runs_dir, ws.state_dir))
    isolation = isolation_for(recipe.isolation, git)
    remove_tree(ws, run.id)
    if isolation.mode == "tree":
        create_tree(ws, run.id, git, recipe.launch.links)
    write_git_files(run.path, git)
    run.info.git = GitState(**git.as_dict())
    run.info.isolation = isolation
    save_info(run)
    return run
