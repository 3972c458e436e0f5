"""TensorBoard over selected runs: a temporary folder with one entry per run id linking to its
event files, served by a TensorBoard process on a free loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from expctl.errors import ExpctlError, NotFoundError
from expctl.runs import Run
from expctl.workspace import Workspace

INSTALL = "pip install 'expctl[tensorboard]'"


@dataclass
class Served:
    url: str
    logdir: Path
    process: subprocess.Popen
    runs: dict[str, int]  # run id -> event files linked


def run_event_files(ws: Workspace, run: Run) -> list[Path]:
    """Event files in the run folder and in the recipe's tensorboard sources."""
    from expctl.metrics.context import expand, render_pattern, run_context, run_recipe
    from expctl.metrics.tensorboard import event_files

    paths = [run.path]
    try:
        recipe = run_recipe(run)
        context = run_context(ws, run, recipe)
        for source in recipe.metrics.sources:
            if source.kind == "tensorboard":
                paths.extend(expand(render_pattern(source.path, recipe, context), run.path))
    except ExpctlError:
        pass  # an imported run's config need not be a recipe: its folder still counts
    return sorted({p.resolve() for p in event_files(paths)})


def link_runs(ws: Workspace, runs: list[Run], logdir: Path) -> dict[str, int]:
    """logdir/<run id>/... symlinks to each run's event files (their folders kept below the id
    when a run has several, so TensorBoard names them `<id>/<folder>`)."""
    linked: dict[str, int] = {}
    for run in runs:
        files = run_event_files(ws, run)
        if not files:
            continue
        parents = {f.parent for f in files}
        common = Path(_common(parents))
        for f in files:
            target = logdir / run.id / f.parent.relative_to(common) / f.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(f)
        linked[run.id] = len(files)
    if not linked:
        raise NotFoundError("None of the runs has TensorBoard event files.",
                            hint="see the recipe's tensorboard metric sources")
    return linked


def _common(parents: set[Path]) -> str:
    import os

    return os.path.commonpath([str(p) for p in parents])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(ws: Workspace, runs: list[Run], timeout: float = 60.0) -> Iterator[Served]:
    """TensorBoard serving the runs until the block ends; then it is stopped and the folder
    of links removed, whatever ended the block (Ctrl-C included)."""
    from expctl.visual.tools import require

    require("tensorboard", INSTALL)
    work = Path(tempfile.mkdtemp(prefix="expctl-tensorboard-"))
    logdir, log = work / "runs", work / "tensorboard.log"
    process = None
    try:
        linked = link_runs(ws, runs, logdir)
        port = free_port()
        with open(log, "wb") as out:  # a file, not a pipe: nobody reads TensorBoard's chatter
            process = subprocess.Popen(
                [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir),
                 "--host", "127.0.0.1", "--port", str(port), "--reload_interval", "5"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        _wait_until_serving(process, url, log, timeout)
        yield Served(url, logdir, process, linked)
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(work, ignore_errors=True)


def _wait_until_serving(process: subprocess.Popen, url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = log.read_text(errors="replace").strip().splitlines()
            raise ExpctlError(f"TensorBoard exited with code {process.returncode}"
                              + (f": {err[-1]}" if err else "."))
        try:
            with urllib.request.urlopen(url + "data/runs", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise ExpctlError(f"TensorBoard did not answer at {url} within {timeout:.0f} s.")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
