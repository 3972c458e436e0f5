"""Many expctl commands writing one registry at once: every write lands, none sees a lock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import RECORDER, expctl_script, registry_rows, write_jsonl

PROCESSES = 8
RECORDS = 50



def _make_runs(workspace: Path, cli, count: int) -> list[str]:
    ids = [f"r{i}" for i in range(count)]
    write_jsonl(workspace.parent / "runs.jsonl", [{"id": i, "metrics": {}} for i in ids])
    code, _, err = cli("import", str(workspace.parent / "runs.jsonl"))
    assert code == 0, err
    return ids


def _metric_rows(workspace: Path) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for run_id, name, value in registry_rows(workspace, "SELECT run_id, name, value FROM metrics"):
        found.setdefault(run_id, {})[name] = value
    return found


def test_eight_processes_recording_at_once(workspace: Path, cli) -> None:
    ids = _make_runs(workspace, cli, PROCESSES)
    procs = [subprocess.Popen([sys.executable, "-c", RECORDER, run_id, str(RECORDS)],
                              cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for run_id in ids]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err and "error" not in err, err
    expected = {f"m{i}": i + 0.5 for i in range(RECORDS)}
    rows = _metric_rows(workspace)
    assert sum(len(v) for v in rows.values()) == PROCESSES * RECORDS
    for run_id in ids:
        assert rows[run_id] == expected
        results = json.loads((workspace / "runs" / run_id / "experiment_results.json")
                             .read_text(encoding="utf-8"))
        assert results["metrics"] == expected


def test_real_console_scripts_recording_at_once(workspace: Path, cli) -> None:
    """The same with the installed `expctl` script, fewer records per process."""
    ids = _make_runs(workspace, cli, PROCESSES)
    per_process = 3
    script = expctl_script()
    loop = " && ".join(f'"$0" record "$1" c{i}={i}' for i in range(per_process))
    procs = [subprocess.Popen(["sh", "-c", loop, script, run_id], cwd=workspace,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for run_id in ids]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err, err
    rows = _metric_rows(workspace)
    assert {run_id: len(rows.get(run_id, {})) for run_id in ids} == \
        {run_id: per_process for run_id in ids}
