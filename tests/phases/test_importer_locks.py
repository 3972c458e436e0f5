"""Concurrent `expctl import` of one run id: every value lands (the run's folder lock, and
runs/' lock for a folder being created), in the run folder and in the registry."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from conftest import registry_rows

# The real CLI entry point called N times in one process: `python -c IMPORTER DIR P N`
# imports column c<P>_<k> into run `shared` for k < N, after the start file appears.
IMPORTER = """
import sys, time
from pathlib import Path
from expctl.cli import main

folder, proc, count, run = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
while not (folder / "go").exists():
    time.sleep(0.01)
for k in range(count):
    path = folder / f"p{proc}_{k}.csv"
    path.write_text(f"id,c{proc}_{k}\\n{run},{proc}.{k}\\n")
    sys.argv = ["expctl", "import", str(path)]
    try:
        main()
    except SystemExit as exc:
        if exc.code:
            raise
"""


def _run_importers(workspace: Path, procs: int, count: int, run: str) -> None:
    folder = workspace.parent / f"imports_{run}"
    folder.mkdir()
    started = [subprocess.Popen([sys.executable, "-c", IMPORTER, str(folder), str(p), str(count),
                                 run], cwd=workspace, stderr=subprocess.PIPE, text=True)
               for p in range(procs)]
    time.sleep(0.5)  # let every process start before any imports
    (folder / "go").write_text("")
    errors = [p.communicate(timeout=600)[1] for p in started]
    assert [p.returncode for p in started] == [0] * procs, errors
    assert not any("internal error" in e for e in errors), errors


def _expected(procs: int, count: int) -> dict[str, float]:
    return {f"c{p}_{k}": float(f"{p}.{k}") for p in range(procs) for k in range(count)}


def _check(workspace: Path, run: str, expected: dict[str, float]) -> None:
    results = json.loads((workspace / "runs" / run / "experiment_results.json").read_text())
    assert results["metrics"] == expected
    rows = registry_rows(workspace, "SELECT name, value FROM metrics WHERE run_id = :id",
                         {"id": run})
    assert dict(rows) == expected
    leftovers = [p.name for p in (workspace / "runs").rglob(".*")]
    assert leftovers == []


def test_eight_importers_of_one_id_keep_all_160_values(workspace: Path, cli) -> None:
    (workspace.parent / "seed.csv").write_text("id,seed\nshared,1\n")
    assert cli("import", str(workspace.parent / "seed.csv"))[0] == 0
    _run_importers(workspace, 8, 20, "shared")
    _check(workspace, "shared", {"seed": 1.0, **_expected(8, 20)})


def test_eight_first_imports_of_a_new_id_keep_all_eight(workspace: Path) -> None:
    _run_importers(workspace, 8, 1, "fresh")
    _check(workspace, "fresh", _expected(8, 1))
