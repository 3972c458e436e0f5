"""What a run's private working tree costs: time and disk per run, for a repository of a few
thousand files (made in a temporary folder), and what `expctl new` costs with and without one.

    python bench/bench_trees.py [--files 3000] [--repeat 5] [--quick]

Measured: making the tree (git worktree add, patch applied, untracked files copied, a link),
the launch-time check that the code changed since `new`, removing the tree, the disk the
tree's files take (plus git's per-worktree index), and `expctl new` end to end in both modes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def make_repo(root: Path, files: int) -> None:
    """`files` small source files in 100-file folders, committed; one edit and 5 untracked
    files left uncommitted (so the patch and the copies are part of the cost)."""
    from expctl.workspace import init_workspace

    git(root, "init", "-q", "-b", "main")
    for i in range(files):
        folder = root / "src" / f"pkg{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{i:05d}.py").write_text(f"# module {i}\nVALUE = {i}\n" + "x = 1\n" * 40)
    init_workspace(root)
    (root / "recipes" / "tree.yaml").write_text(
        "command: [\"true\"]\nlaunch: {links: [data]}\n")
    (root / "recipes" / "shared.yaml").write_text("command: [\"true\"]\nisolation: none\n")
    (root / "data").mkdir()
    with open(root / ".gitignore", "a") as f:
        f.write("data/\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "code")
    (root / "src" / "pkg000" / "mod00000.py").write_text("# edited\n")
    for i in range(5):
        (root / f"notes{i}.txt").write_text("untracked\n" * 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 repeats")
    args = parser.parse_args()
    repeat = 2 if args.quick else args.repeat
    from types import SimpleNamespace

    from expctl.snapshot import git_snapshot
    from expctl.workspace import Workspace
    from expctl.worktree import code_changes, create_tree, remove_tree, tree_path, tree_size

    with tempfile.TemporaryDirectory(prefix="bench-trees-") as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        make_repo(root, args.files)
        ws = Workspace(root)
        repo_bytes = tree_size(root) - tree_size(root / ".git")
        snapshot_s, create_s, remove_s, sizes, admin, cpu_s = [], [], [], [], [], []
        for i in range(repeat):
            began = time.perf_counter()
            snap = git_snapshot(root, exclude=(ws.runs_dir, ws.state_dir))
            snapshot_s.append(time.perf_counter() - began)
            before = os.times()
            made = create_tree(ws, f"r{i}", snap, ["data"])
            after = os.times()
            create_s.append(made.seconds)
            # CPU time (this process and its git children): what the tree costs on an idle
            # machine, whatever else the machine is busy with.
            cpu_s.append(sum(after[:4]) - sum(before[:4]))
            sizes.append(tree_size(tree_path(ws, f"r{i}")))
            admin.append(tree_size(root / ".git" / "worktrees"))
            began = time.perf_counter()
            remove_tree(ws, f"r{i}")
            remove_s.append(time.perf_counter() - began)
        fake = SimpleNamespace(info=SimpleNamespace(git=SimpleNamespace(available=True,
                               sha=snap.sha)), path=Path(tmp) / "no-run-folder")
        began = time.perf_counter()
        code_changes(ws, fake)
        check_s = time.perf_counter() - began
        new_s = {}
        for recipe in ("tree", "shared"):
            times = []
            for i in range(repeat):
                began = time.perf_counter()
                subprocess.run([sys.executable, "-m", "expctl", "-C", str(root), "new",
                                f"{recipe}{i}", "--recipe", recipe], check=True,
                               capture_output=True)
                times.append(time.perf_counter() - began)
            new_s[recipe] = statistics.median(times)

    med = statistics.median
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"repository: {args.files} files, {repo_bytes / 1e6:.1f} MB checked out; "
          f"1 edited file, 5 untracked; median of {repeat}")
    print(f"git snapshot (new, both modes): {med(snapshot_s) * 1000:7.0f} ms")
    print(f"make the tree:                  {med(create_s) * 1000:7.0f} ms wall, "
          f"{med(cpu_s) * 1000:.0f} ms CPU")
    print(f"code-changed check (launch):    {check_s * 1000:7.0f} ms")
    print(f"remove the tree:                {med(remove_s) * 1000:7.0f} ms")
    print(f"tree disk:                      {med(sizes) / 1e6:7.1f} MB "
          f"(+ {max(admin) / 1e6:.2f} MB git index and admin files per tree)")
    print(f"`expctl new`, private tree:     {new_s['tree'] * 1000:7.0f} ms")
    print(f"`expctl new`, isolation none:   {new_s['shared'] * 1000:7.0f} ms "
          f"(difference {(new_s['tree'] - new_s['shared']) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
