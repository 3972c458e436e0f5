"""What the code and machine looked like when a run was created: git state and environment."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path


@dataclass
class GitSnapshot:
    available: bool
    sha: str | None = None
    branch: str | None = None
    dirty: bool = False
    patch: bytes = b""  # staged and unstaged changes against HEAD, as git wrote them
    untracked: list[str] = field(default_factory=list)  # printable names (untracked.txt)
    root: str | None = None
    untracked_paths: list[str] = field(default_factory=list)  # the real names, to copy them
    reason: str = ""  # why there is no git state

    def as_dict(self) -> dict:
        if not self.available:
            return {"available": False, "reason": self.reason}
        return {"available": True, "sha": self.sha, "branch": self.branch, "dirty": self.dirty,
                "untracked": len(self.untracked)}


def git_snapshot(folder: Path, exclude: tuple[Path, ...] = ()) -> GitSnapshot:
    """Git SHA, branch, dirty flag, diff and untracked files of the repo holding `folder`."""
    if shutil.which("git") is None:
        return GitSnapshot(False, reason="git is not installed")
    import git

    try:
        repo = git.Repo(folder, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return GitSnapshot(False, reason="not a git repository")
    root = Path(repo.working_tree_dir).resolve()
    try:
        sha = repo.head.commit.hexsha
    except ValueError:
        sha = None  # a repository without commits yet
    try:
        branch = repo.active_branch.name
    except TypeError:
        branch = None  # detached HEAD
    # Run folders and expctl's own state are not code: edits there must not mark runs dirty.
    skipped = [str(p.resolve().relative_to(root)) + "/" for p in exclude if _inside(p, root)]
    pathspec = ["--", ".", *(f":(exclude){s}" for s in skipped)]
    # Bytes throughout: a diff of a latin-1 file or a file name that is not UTF-8 is kept
    # exactly, so `git apply git.patch` restores the code.
    diff = partial(repo.git.diff, "--binary", stdout_as_string=False)
    patch = diff("HEAD", *pathspec) if sha else diff("--cached", *pathspec) + diff(*pathspec)
    listed = repo.git.ls_files("--others", "--exclude-standard", "-z", stdout_as_string=False)
    raw = [name for name in listed.split(b"\0") if name]
    raw = [name for name in raw if not os.fsdecode(name).startswith(tuple(skipped))]
    untracked = [_file_name(name) for name in raw]
    dirty = bool(patch.strip())
    return GitSnapshot(True, sha, branch, dirty, patch, untracked, str(root),
                       untracked_paths=[os.fsdecode(name) for name in raw])


def _file_name(raw: bytes) -> str:
    """A file name as one printable line: undecodable bytes and newlines escaped."""
    name = raw.decode("utf-8", errors="backslashreplace")
    return name.replace("\n", "\\n").replace("\r", "\\r")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except ValueError:
        return False


def environment_text() -> str:
    """Python, platform, packages, torch/CUDA versions and GPUs, without importing torch."""
    from importlib import metadata

    lines = [
        f"python: {sys.version.split()[0]} ({sys.executable})",
        f"platform: {platform.platform()}",
        f"machine: {platform.machine()}, {_cpu_count()} CPUs",
    ]
    dists = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            dists[name.lower()] = dist.version
    for name in ("torch", "accelerate", "numpy"):
        if name in dists:
            lines.append(f"{name}: {dists[name]}")
    lines.append(f"cuda devices: {_gpus() or 'none found (nvidia-smi not available)'}")
    lines.append("")
    lines.append("packages:")
    lines.extend(f"  {n}=={v}" for n, v in sorted(dists.items()))
    return "\n".join(lines) + "\n"


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _gpus() -> str:
    if shutil.which("nvidia-smi") is None:
        return ""
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,name,memory.total,driver_version",
             "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return "; ".join(line.strip() for line in result.stdout.splitlines() if line.strip())
