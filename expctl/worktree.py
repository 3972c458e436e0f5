"""A run's private working tree: the workspace's code exactly as the run recorded it at `new`.

    <workspace>/.expctl/trees/<run id>/        a detached `git worktree` of the recorded commit,
                                               with git.patch applied and the untracked files
                                               copied; the recipe's `launch.links` are symlinks
                                               to the workspace's own paths
    <workspace>/.expctl/trees/<run id>.json    the marker: expctl made this tree (only trees with
                                               a marker are ever removed)

The trees live in the git-ignored state folder (a `.gitignore` of `*` beside them keeps the
workspace's `git status` clean even without `init`'s entries), never in the run folder, which
`commit` stages. Only git's command line is used: no GitPython import on this path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expctl.errors import ConflictError, ExpctlError, NotFoundError
from expctl.rundir import PATCH_FILE, UNTRACKED_FILE, phase_workdir
from expctl.workspace import Workspace

TREES = "trees"  # under the workspace's state folder


@dataclass
class TreeMade:
    """A tree just created, and what it cost."""

    path: Path
    seconds: float
    untracked: int
    links: list[str]


def trees_dir(ws: Workspace) -> Path:
    return ws.state_dir / TREES


def tree_path(ws: Workspace, run_id: str) -> Path:
    """Where run `run_id`'s tree lives (whether or not it exists)."""
    return trees_dir(ws) / run_id


def marker_path(ws: Workspace, run_id: str) -> Path:
    return trees_dir(ws) / f"{run_id}.json"


def read_marker(ws: Workspace, run_id: str) -> dict[str, Any] | None:
    """The marker of an expctl-made tree, or None when there is none."""
    try:
        data = json.loads(marker_path(ws, run_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def tree_ids(ws: Workspace) -> list[str]:
    """Run ids that have an expctl-made tree (a marker)."""
    folder = trees_dir(ws)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if p.is_file())


def run_workspace(ws: Workspace, run: Any) -> Path:
    """The folder that plays the workspace for the run's jobs: the matching folder of its tree
    when it is isolated (a path that no longer exists once the tree is removed), else the
    workspace itself."""
    if run.info.isolation.mode != "tree":
        return ws.root
    marker = read_marker(ws, run.id) or {}
    return tree_path(ws, run.id) / str(marker.get("subdir") or "")


def require_tree(ws: Workspace, run: Any) -> None:
    """Refuse to start a job of an isolated run whose tree is gone."""
    if run.info.isolation.mode == "tree" and not tree_path(ws, run.id).is_dir():
        raise NotFoundError(
            f"The private working tree of run `{run.id}` is gone ({tree_path(ws, run.id)}).",
            hint="it was removed (`expctl clean-trees`, or by hand); a never-launched run gets "
            f"a new one with `expctl snapshot {run.id}`",
        )


def job_workdir(ws: Workspace, run: Any, recipe: Any, phase: str) -> Path:
    """Where the phase's command runs (relative artifact globs resolve there): launch.workdir,
    or validate.workdir for validation, inside the run's tree or the workspace."""
    return phase_workdir(run_workspace(ws, run), recipe, phase)


def code_changes(ws: Workspace, run: Any) -> str | None:
    """How the workspace's code differs from what run `run` recorded at `new` (None: it does
    not, or there is no git). Untracked files are compared by name."""
    from expctl.snapshot import git_snapshot

    recorded = run.info.git
    if not recorded.available:
        return None
    now = git_snapshot(ws.root, exclude=(ws.runs_dir, ws.state_dir))
    if not now.available:
        return None
    changes = []
    if now.sha != recorded.sha:
        changes.append(f"commit {str(recorded.sha)[:10]} -> {str(now.sha)[:10]}")
    patch = run.path / PATCH_FILE
    before = patch.read_bytes().rstrip(b"\n") if patch.exists() else b""
    if now.patch.rstrip(b"\n") != before:
        changes.append("uncommitted changes")
    listed = run.path / UNTRACKED_FILE
    names = listed.read_text(encoding="utf-8").splitlines() if listed.exists() else []
    if sorted(now.untracked) != sorted(names):
        changes.append("untracked files")
    return ", ".join(changes) or None


def ensure_workdir(ws: Workspace, run: Any, recipe: Any, phase: str) -> Path:
    """The phase's working directory, ready to start a job in. In a tree, a folder git does
    not carry (empty, or ignored like `outputs/`) is made when the workspace has it."""
    require_tree(ws, run)
    cwd = job_workdir(ws, run, recipe, phase)
    base = run_workspace(ws, run).resolve()
    if run.info.isolation.mode == "tree" and not cwd.exists() and cwd.is_relative_to(base):
        if (ws.root / cwd.relative_to(base)).is_dir():
            cwd.mkdir(parents=True)
    return cwd


def write_git_files(folder: Path, git: Any) -> None:
    """git.patch and untracked.txt of a snapshot.GitSnapshot (absent when there is nothing)."""
    from expctl.files import write_text_atomic

    patch = git.patch.rstrip(b"\n") + b"\n" if git.patch else b""
    names = "\n".join(git.untracked) + "\n" if git.untracked else ""
    for name, content in ((PATCH_FILE, patch), (UNTRACKED_FILE, names)):
        if content:
            write_text_atomic(folder / name, content)
        else:
            (folder / name).unlink(missing_ok=True)


def create_tree(ws: Workspace, run_id: str, git: Any, links: list[str]) -> TreeMade:
    """Check out `git` (a snapshot.GitSnapshot: commit, patch, untracked files) as run
    `run_id`'s tree and link `links` to the workspace. A failure leaves no tree behind."""
    began = time.perf_counter()
    repo = Path(git.root)
    path = tree_path(ws, run_id)
    if path.exists() or path.is_symlink():
        if read_marker(ws, run_id) is None:
            raise ConflictError(f"`{path}` exists and was not made by expctl.",
                                hint="move it away, then try again")
        remove_tree(ws, run_id)  # a tree left by a deleted run of the same id
    folder = trees_dir(ws)
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# expctl's private working trees: never part of the workspace\n*\n",
                          encoding="utf-8")
    subdir = os.path.relpath(ws.root.resolve(), repo.resolve())
    subdir = "" if subdir == "." else subdir
    marker = {"run_id": run_id, "commit": git.sha, "git_root": str(repo), "subdir": subdir,
              "created": time.time(), "links": list(links)}
    # The marker comes first: a tree half made by a crash is still known to be expctl's.
    marker_path(ws, run_id).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    try:
        _git(repo, "worktree", "add", "--detach", "--quiet", str(path), git.sha)
        if git.patch:  # GitPython drops the diff's final newline; git apply needs it
            _git(path, "apply", "--binary", "--whitespace=nowarn", "-",
                 stdin=git.patch.rstrip(b"\n") + b"\n")
        for name in git.untracked_paths:
            _copy(repo / name, path / name)
        place = path / subdir
        for link in links:
            _link(ws.root / link, place / link)
    except OSError as exc:
        remove_tree(ws, run_id)
        raise ExpctlError(f"Cannot make the private working tree of run `{run_id}`: "
                          f"{exc.strerror or exc}: `{exc.filename}`.",
                          hint="check the recipe's launch.links") from None
    except BaseException:
        remove_tree(ws, run_id)
        raise
    return TreeMade(path, time.perf_counter() - began, len(git.untracked_paths), list(links))


def remove_tree(ws: Workspace, run_id: str) -> bool:
    """Remove run `run_id`'s tree if expctl made it; True when one was removed. Links are
    removed as links: what they point at in the workspace is never touched."""
    marker = read_marker(ws, run_id)
    if marker is None:
        return False
    path = tree_path(ws, run_id)
    repo = Path(str(marker.get("git_root") or ws.root))
    if path.exists():
        try:
            _git(repo, "worktree", "remove", "--force", "--force", str(path))
        except ExpctlError:
            pass  # not (or no longer) a registered worktree: remove the folder below
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    try:
        _git(repo, "worktree", "prune")
    except ExpctlError:
        pass  # the repository itself is gone: nothing to prune
    marker_path(ws, run_id).unlink(missing_ok=True)
    folder = trees_dir(ws)
    try:
        if [p.name for p in folder.iterdir()] == [".gitignore"]:  # the last tree: no trace
            (folder / ".gitignore").unlink()
            folder.rmdir()
    except OSError:
        pass  # another tree is being made right now: the folder stays
    return True


def tree_size(path: Path) -> int:
    """Bytes the tree's own files take (links not followed; git's shared objects not counted)."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except OSError:
                pass
    return total


def _copy(source: Path, dest: Path) -> None:
    """An untracked file into the tree (a symlink stays a symlink)."""
    if not (source.exists() or source.is_symlink()):
        return  # deleted since the snapshot was taken
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, dest, follow_symlinks=False)


def _link(target: Path, place: Path) -> None:
    """`place` becomes a symlink to the workspace's `target` (made as a folder if missing, so
    that what a job writes through the link, such as a data cache, lands in the workspace)."""
    if not (target.exists() or target.is_symlink()):
        target.mkdir(parents=True)
    if place.is_symlink() or place.is_file():
        place.unlink()
    elif place.is_dir():
        shutil.rmtree(place)  # the commit's copy: the workspace's is the one to use
    place.parent.mkdir(parents=True, exist_ok=True)
    place.symlink_to(target, target_is_directory=target.is_dir())


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> str:
    # GIT_DIR and friends set by a hook or a shell would point every call at one repository.
    env = {k: v for k, v in os.environ.items()
           if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")}
    try:
        done = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True,
                              env=env, check=False)
    except OSError as exc:
        raise ExpctlError(f"Cannot run git: {exc.strerror}.") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ExpctlError(f"git {args[0]} failed for the run's working tree: "
                          f"{message[-1] if message else f'exit code {done.returncode}'}.")
    return done.stdout.decode("utf-8", "replace")
