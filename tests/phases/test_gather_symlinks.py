"""Secrets through symlinks: a job leaves links to a 0600 file and to a folder under its
artifact globs (outside the run folder and inside it). `gather` never follows them out of the
folder it gathers from, `commit` never commits a link's target, and a link in the run folder
does not block the commit. The secret's bytes appear nowhere in the run folder or in git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from standins.kit import PY, cli, git, make_workspace

SECRET = b"S3CRET-token-0b7c1e9d"

# The job writes a secret file and a secret folder (0600/0700) outside the workspace during
# its run, then links to them from both artifact folders; one real output, one metric, and a
# link inside the folder that stays inside it (like Lightning's last.ckpt).
JOB = r'''
import json, os, sys
run_dir, secret_dir, work = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(os.path.join(secret_dir, "folder"), mode=0o700, exist_ok=True)
for path in (os.path.join(secret_dir, "token"), os.path.join(secret_dir, "folder", "key")):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, SECRET)
    os.close(fd)
for out in (os.path.join(run_dir, "out"), os.path.join(work, "out")):
    os.makedirs(os.path.join(out, "sub"), exist_ok=True)
    with open(os.path.join(out, "real.txt"), "w") as f:
        f.write("a real output\n")
    os.symlink(os.path.join(secret_dir, "token"), os.path.join(out, "link.txt"))
    os.symlink(os.path.join(secret_dir, "folder"), os.path.join(out, "linkdir"))
    os.symlink(os.path.join(secret_dir, "token"), os.path.join(out, "sub", "deep.txt"))
    os.symlink("real.txt", os.path.join(out, "last.txt"))
with open(os.path.join(run_dir, "out", "metrics.json"), "w") as f:
    json.dump({"acc": 0.5}, f)
'''.replace("SECRET", repr(SECRET))

RECIPE = """\
description: symlinks under artifact globs
command: ["{py}", "{script}", "{{run_dir}}", "{secret_dir}", "{work}"]
artifacts:
  outputs: {{glob: ["{work}/out/*", "{work}/out/**/*"], dest: outputs}}
  inside: {{glob: ["{{run_dir}}/out/**/*"]}}
metrics:
  primary: acc
  sources: [{{kind: json, path: out/metrics.json, metrics: {{acc: acc}}}}]
"""


def test_links_to_a_secret_are_never_gathered_or_committed(tmp_path: Path):
    secret_dir = tmp_path / "private"
    root = tmp_path / "ws"
    root.mkdir()
    script = tmp_path / "job.py"
    script.write_text(JOB)
    work = tmp_path / "shared-work"  # a shared output folder outside the repository
    work.mkdir()
    make_workspace(root, {"sym": RECIPE.format(py=PY, script=script, secret_dir=secret_dir,
                                               work=work)})
    cli(root, "new", "symlinks", "--recipe", "sym")
    cli(root, "launch", "symlinks", "--local")
    cli(root, "wait", "symlinks")
    assert os.stat(secret_dir / "token").st_mode & 0o777 == 0o600
    gathered = cli(root, "gather", "symlinks")
    for link in (work / "out" / "link.txt", work / "out" / "linkdir",
                 work / "out" / "sub" / "deep.txt"):
        assert gathered.stderr.count(f"`{link}` is a link out of the folder") == 1, \
            gathered.stderr
    run = root / "runs" / "symlinks"
    assert (run / "outputs" / "real.txt").read_text() == "a real output\n"
    assert "is a link out of the folder" in gathered.stderr.split(str(run / "out"))[-1]
    cli(root, "record", "symlinks")
    committed = cli(root, "commit", "symlinks")
    assert "outside" not in committed.stderr
    # Nothing of the secret in the run folder (links are read as links, never through)...
    for folder, _dirs, names in os.walk(run):
        for name in names:
            path = Path(folder) / name
            if not path.is_symlink():
                assert SECRET not in path.read_bytes(), path
    # ...nor anywhere in git: every object of the repository, and the committed tree.
    objects = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=root,
                             capture_output=True, check=True).stdout
    assert SECRET not in objects
    assert "120000" not in git(root, "ls-tree", "-r", "HEAD")  # no link was committed either
    files = git(root, "ls-tree", "-r", "--name-only", "HEAD", "runs/symlinks").split()
    assert "runs/symlinks/out/real.txt" in files and "runs/symlinks/outputs/real.txt" in files
    assert not any(Path(f).name.startswith(("link", "deep", "last")) for f in files), files
    ignore = (run / ".gitignore").read_text()
    assert "/out/link.txt" in ignore and "/out/linkdir" in ignore
    assert git(root, "status", "--porcelain", "runs/symlinks") == ""
