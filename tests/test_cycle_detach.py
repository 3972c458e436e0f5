"""`cycle --detach` and `validate --local`: the work goes on in a process of its own that
outlives the command, and leaves its progress in the run folder."""

from __future__ import annotations

import json
from pathlib import Path

from launchkit import wait_until
from standins.kit import cli, hydra_recipe, make_workspace, results


def wait_for_line(path: Path, text: str) -> str:
    """The file's content once a line of it contains `text`."""
    def content() -> str | None:
        found = path.read_text() if path.exists() else ""
        return found if any(text in line for line in found.splitlines()) else None

    return wait_until(content)


def test_detached_cycle_and_detached_validation(tmp_path: Path):
    root = make_workspace(tmp_path, {"hydra": hydra_recipe(tmp_path / "starts.txt")})
    started = cli(root, "cycle", "hydra_6", "--detach", "--local")
    assert "detach: done (background process)" in started.stderr
    log = root / "runs" / "hydra_6" / "training_logs" / "cycle.log"
    content = wait_for_line(log, "cycle: done")
    assert "launch: done (local, background process)" in content
    assert "record: done" in content
    first = results(root, "hydra_6")
    expected = json.loads((root / "runs" / "hydra_6" / "expected.json").read_text())
    assert first["metrics"]["map"] == expected["map"]

    # Validate again in the background: a new validation record, then recorded again.
    record = root / "runs" / "hydra_6" / "validation_results" / "validation.json"
    before = json.loads(record.read_text())["started"]
    assert before == first["phases"]["validation"]["started"]
    cli(root, "validate", "hydra_6", "--local")
    newer = wait_until(lambda: _finished_after(record, before))
    wait_for_line(root / "runs" / "hydra_6" / "experiment_results.json", newer["started"])
    assert results(root, "hydra_6")["metrics"]["map"] == expected["map"]
    assert (tmp_path / "starts.txt").read_text().splitlines() == ["hydra_6"]


def _finished_after(record: Path, before: str) -> dict | None:
    try:
        data = json.loads(record.read_text())
    except ValueError:
        return None
    return data if data["started"] != before and data.get("exit_code") == 0 else None
